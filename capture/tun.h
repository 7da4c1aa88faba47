/* tun.h - Linux TUN devices for the bridge: create one, get a non-blocking fd.
 *
 * A device is created with IFF_TUN | IFF_NO_PI (raw IP, no packet-info
 * header: TT_LINK_RAW) and without IFF_PERSIST, so it disappears when its
 * descriptor closes: a bridge that exits (any way, even killed) leaves no
 * device behind. The descriptor keeps working after the device is moved into
 * another network namespace (`ip link set NAME netns NS`).
 *
 *     int fd;
 *     char name[TT_TUN_NAMESIZE], err[TT_ERRBUF_SIZE];
 *     if (tt_tun_open(&fd, "tt0", name, err) < 0) -> print err
 *     read(fd, buf, sizeof buf) / write(fd, pkt, len): one IP packet each
 *     tt_tun_close(fd);
 *
 * Writes a device refuses are the caller's to count, not to die of:
 * EIO while the device is down, ENOBUFS/ENOMEM under memory pressure,
 * EAGAIN when the descriptor's send budget is used up, EINVAL for a packet
 * that is not IP. A read that fails with EBADFD means the device was deleted
 * (`ip link del`): the descriptor is dead.
 */
#ifndef TT_CAPTURE_TUN_H
#define TT_CAPTURE_TUN_H

#include "tunneltap/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* IFNAMSIZ: a device name is at most 15 bytes plus the terminating NUL. */
#define TT_TUN_NAMESIZE 16

/* Largest packet a TUN device hands out (the IPv4/IPv6 length field's limit). */
#define TT_TUN_MAX_PACKET 65535u

/* Creates TUN device `name` (a "%d" in it lets the kernel number it) and
 * returns its descriptor in *fd, non-blocking and close-on-exec, with the
 * name the kernel gave it in `actual` (may be NULL). A device that already
 * exists is refused rather than attached to (it would outlive the process).
 * Returns 0, or
 *   TT_EINVAL  name empty, too long, or already used by a device,
 *   TT_ENOENT  /dev/net/tun missing (no tun module),
 *   TT_EPERM   not allowed (CAP_NET_ADMIN needed),
 *   TT_ESYS    any other failure,
 * with a message naming the device in errbuf (may be NULL).
 * Thread-safety: any thread. */
int tt_tun_open(int *fd, const char *name, char actual[TT_TUN_NAMESIZE], char *errbuf);

/* Closes the descriptor; the device disappears with its last descriptor.
 * A negative fd is ignored. Thread-safety: any thread. */
void tt_tun_close(int fd);

#ifdef __cplusplus
}
#endif
#endif
