/* pcapng_writer.h - writes a pcapng file with comments (libpcap only reads pcapng).
 *
 * The blocks of draft-ietf-opsawg-pcapng that tunneltap needs and nothing
 * more: one Section Header Block (shb_comment, shb_userappl), Interface
 * Description Blocks (link type, snaplen, if_tsresol = 6: microseconds) and
 * Enhanced Packet Blocks with opt_comment. Host byte order, as the spec
 * allows: readers detect it from the byte-order magic.
 *
 *     cli_pcapng_writer *w;
 *     if (cli_pcapng_open(&w, "out.pcapng", "why these packets", "tunneltap", err) < 0) ...
 *     uint32_t ifid;
 *     cli_pcapng_add_interface(w, 101, 262144, "capture.pcap", &ifid);
 *     const char *c[] = {"tunneltap: C1 syn_unanswered ..."};
 *     cli_pcapng_write_packet(w, ifid, ts_us, data, caplen, wirelen, c, 1);
 *     if (cli_pcapng_close(w, err) < 0) ...   (reports any write error)
 *
 * Write errors are sticky: after the first one every call returns TT_EIO and
 * cli_pcapng_close() says what failed. Not thread-safe: one owner thread.
 */
#ifndef TT_CLI_PCAPNG_WRITER_H
#define TT_CLI_PCAPNG_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "tunneltap/error.h"

/* Longest option value pcapng can hold (its length field is 16 bits). Longer
 * comments are cut at a UTF-8 character boundary. */
#define CLI_PCAPNG_OPT_MAX 65532u

typedef struct cli_pcapng_writer cli_pcapng_writer;

/* Creates path (truncating it) and writes the Section Header Block with
 * shb_comment and shb_userappl (either may be NULL). Returns 0 and sets *out,
 * or TT_EINVAL / TT_ENOMEM / TT_EIO (cannot create or write: errno text) with
 * a message naming the file in err (TT_ERRBUF_SIZE, may be NULL). Nothing is
 * leaked on error, but a partly written file stays behind. */
int cli_pcapng_open(cli_pcapng_writer **out, const char *path, const char *shb_comment,
                    const char *userappl, char *err);

/* Writes an Interface Description Block: linktype (LINKTYPE_ value), snaplen
 * (0: no limit), if_name (may be NULL) and if_tsresol 6. Sets *if_id to the
 * interface number packets refer to. Returns 0, TT_EINVAL (linktype outside
 * 0..65535) or TT_EIO. */
int cli_pcapng_add_interface(cli_pcapng_writer *w, int linktype, uint32_t snaplen,
                             const char *if_name, uint32_t *if_id);

/* Writes an Enhanced Packet Block: caplen bytes of data (data may be NULL
 * when caplen is 0), wirelen bytes on the wire, ts_us microseconds since the
 * epoch, and one opt_comment per non-NULL, non-empty entry of comments.
 * Returns 0, TT_EINVAL (unknown if_id, data NULL with caplen > 0, caplen
 * above the interface's non-zero snaplen, block over 4 GiB) or TT_EIO. */
int cli_pcapng_write_packet(cli_pcapng_writer *w, uint32_t if_id, uint64_t ts_us,
                            const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                            const char *const *comments, size_t ncomments);

/* Packets written so far. */
uint64_t cli_pcapng_packets(const cli_pcapng_writer *w);

/* Flushes and closes the file, frees w (NULL is accepted). Returns 0, or
 * TT_EIO with a message in err when any write (or the close) failed. */
int cli_pcapng_close(cli_pcapng_writer *w, char *err);

#endif
