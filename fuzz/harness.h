/* harness.h - fuzz harnesses shared by the libFuzzer targets (fuzz/fuzz_*.c)
 * and the regression test that replays every saved crash (tests/test_fuzz_regress.c).
 *
 * Each harness takes one input, runs it through tunneltap and checks
 * invariants on the way (counters consistent, no allocation on the packet
 * path, sizes freed as allocated, records well formed). A broken invariant
 * prints what broke and aborts, so libFuzzer and Criterion both see a crash.
 *
 * Input formats:
 *   decode   [link selector][options] then records [len:be16][dt][wire][len bytes]...
 *            link = fz_links[selector % 8]; options: 1 verify checksums, 2 short
 *            deadlines, 4 note losses, 8 clock steps back, 0x10 start near
 *            UINT64_MAX, 0x20 dpi_first_name; len 0xffff: advance the clock
 *            only (no packet).
 *   pcapfile a whole pcap/pcapng file.
 *   control  bytes sent on one control-socket connection (then half-close).
 */
#ifndef TT_FUZZ_HARNESS_H
#define TT_FUZZ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Decoder + flow tracker: one tt_analyzer with 16 flows (eviction) and,
 * when dpi, nDPI with 4 classification slots. Returns 0. */
int tt_fuzz_decode(const uint8_t *data, size_t size, bool dpi);

/* Capture-file ingestion: tt_pcapfile_open/next on a memfd, packets fed to
 * an analyzer. Returns 0. */
int tt_fuzz_pcapfile(const uint8_t *data, size_t size);

/* Control socket: a tt_control server in a private temporary directory, one
 * client connection sending data, every reply checked. Also checks the
 * label sanitiser on the raw bytes. Returns 0, or -1 when the socket could
 * not be set up (environment, not a finding). */
int tt_fuzz_control(const uint8_t *data, size_t size);

/* Replays a saved input, choosing the harness from the file name's prefix
 * ("decode-", "decode_dpi-", "pcapfile-", "control-"). Returns 0, or -1 when
 * the file cannot be read or its name has no known prefix. */
int tt_fuzz_replay_file(const char *path);

#ifdef __cplusplus
}
#endif
#endif
