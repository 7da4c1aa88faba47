/* tun.c - creates Linux TUN devices (IFF_TUN | IFF_NO_PI, never persistent). */
#include "analyze/errbuf.h"
#include "capture/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <net/if.h>

#include <linux/if_tun.h>

#define TUN_PATH "/dev/net/tun"

/* True when a device of that exact name exists in this network namespace
 * (if_nametoindex asks the kernel, unlike /sys, which shows the namespace it
 * was mounted in). A "%d" pattern never names an existing device. */
static int name_in_use(const char *name)
{
    if (strchr(name, '%'))
        return 0;
    return if_nametoindex(name) != 0;
}

int tt_tun_open(int *fd, const char *name, char actual[TT_TUN_NAMESIZE], char *errbuf)
{
    *fd = -1;
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= TT_TUN_NAMESIZE) {
        tt__set_err(errbuf, "TUN device name '%s' must have 1 to %d characters", name ? name : "",
                    TT_TUN_NAMESIZE - 1);
        return TT_EINVAL;
    }
    if (strchr(name, '/') || strchr(name, ' ') || strchr(name, ':')) {
        tt__set_err(errbuf, "TUN device name '%s' may not contain '/', ':' or spaces", name);
        return TT_EINVAL;
    }
    if (name_in_use(name)) {
        /* TUNSETIFF would attach to it (a persistent TUN device) or fail with
         * EBUSY/EINVAL; either way it is not ours to create or remove. */
        tt__set_err(errbuf, "a network device named '%s' already exists", name);
        return TT_EINVAL;
    }
    int f = open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (f < 0) {
        int e = errno;
        tt__set_err(errbuf, "cannot open %s: %s%s", TUN_PATH, strerror(e),
                    e == ENOENT ? " (is the tun module loaded?)" : "");
        return e == ENOENT || e == ENODEV || e == ENXIO ? TT_ENOENT
               : e == EACCES || e == EPERM              ? TT_EPERM
                                                        : TT_ESYS;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI; /* no IFF_PERSIST: gone with the last fd */
    memcpy(ifr.ifr_name, name, n);
    if (ioctl(f, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(f);
        if (e == EPERM || e == EACCES) {
            tt__set_err(errbuf, "cannot create TUN device '%s': %s (CAP_NET_ADMIN needed)", name,
                        strerror(e));
            return TT_EPERM;
        }
        if (e == EBUSY || e == EEXIST || e == EINVAL) {
            tt__set_err(errbuf, "cannot create TUN device '%s': %s (name in use or invalid)", name,
                        strerror(e));
            return TT_EINVAL;
        }
        tt__set_err(errbuf, "cannot create TUN device '%s': %s", name, strerror(e));
        return TT_ESYS;
    }
    if (actual) {
        memcpy(actual, ifr.ifr_name, TT_TUN_NAMESIZE);
        actual[TT_TUN_NAMESIZE - 1] = '\0';
    }
    *fd = f;
    return 0;
}

void tt_tun_close(int fd)
{
    if (fd >= 0)
        close(fd);
}
