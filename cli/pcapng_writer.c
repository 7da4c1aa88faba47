/* pcapng_writer.c - a minimal pcapng writer: SHB, IDB and EPB with comments.
 *
 * Spec: draft-ietf-opsawg-pcapng ("PCAP Now Generic (pcapng) Capture File
 * Format"), sections 3 (general block structure, options), 4.1 (SHB), 4.2
 * (IDB) and 4.3 (EPB). Every block is
 *
 *     uint32 block type | uint32 block total length | body | options |
 *     uint32 block total length (again)
 *
 * the body and every option value padded to 32 bits with zeros, the total
 * length counting the whole block including both length fields and padding.
 * Options are uint16 code | uint16 value length (unpadded) | value | padding,
 * and a list of options ends with opt_endofopt (code 0, length 0).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/errbuf.h"
#include "cli/pcapng_writer.h"

/* Block types (section 4 and 11.1 of the draft). */
#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 0x00000001u
#define BT_EPB 0x00000006u

#define BYTE_ORDER_MAGIC 0x1A2B3C4Du

/* Option codes (sections 3.5, 4.1, 4.2). */
#define OPT_ENDOFOPT 0
#define OPT_COMMENT 1
#define SHB_USERAPPL 4
#define IF_NAME 2
#define IF_TSRESOL 9

/* Interfaces a writer keeps track of (tunneltap writes one per link type). */
#define MAX_INTERFACES 64

struct cli_pcapng_writer {
    FILE *f;
    char *path;
    int err_no;   /* errno of the first failed write (0: none) */
    bool failed;  /* sticky: a write failed */
    uint32_t nif; /* interfaces described so far */
    uint32_t snaplen[MAX_INTERFACES];
    uint64_t packets;
};

/* Bytes of padding that bring n up to a multiple of 4. */
static size_t pad4(size_t n)
{
    return (4 - (n & 3)) & 3;
}

static void put(cli_pcapng_writer *w, const void *p, size_t n)
{
    if (w->failed || n == 0)
        return;
    errno = 0;
    if (fwrite(p, 1, n, w->f) != n) {
        w->failed = true;
        w->err_no = errno ? errno : EIO;
    }
}

static void put_u16(cli_pcapng_writer *w, uint16_t v)
{
    put(w, &v, sizeof v); /* host byte order: the SHB magic tells readers which */
}

static void put_u32(cli_pcapng_writer *w, uint32_t v)
{
    put(w, &v, sizeof v);
}

static void put_pad(cli_pcapng_writer *w, size_t n)
{
    static const uint8_t zero[4];
    put(w, zero, pad4(n));
}

/* Length of s kept in an option: at most CLI_PCAPNG_OPT_MAX bytes, cut
 * before a UTF-8 continuation byte so a long comment stays valid UTF-8. */
static size_t opt_len(const char *s)
{
    size_t n = strlen(s);
    if (n <= CLI_PCAPNG_OPT_MAX)
        return n;
    n = CLI_PCAPNG_OPT_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0u) == 0x80u)
        n--;
    return n;
}

/* Bytes an option with a value of len bytes takes (header + value + padding). */
static size_t opt_size(size_t len)
{
    return 4 + len + pad4(len);
}

static void put_opt(cli_pcapng_writer *w, uint16_t code, const void *val, size_t len)
{
    put_u16(w, code);
    put_u16(w, (uint16_t)len); /* len <= CLI_PCAPNG_OPT_MAX: callers cut it */
    put(w, val, len);
    put_pad(w, len);
}

static bool present(const char *s)
{
    return s && *s;
}

int cli_pcapng_open(cli_pcapng_writer **out, const char *path, const char *shb_comment,
                    const char *userappl, char *err)
{
    *out = NULL;
    if (!path || !*path) {
        tt__set_err(err, "pcapng: no output path");
        return TT_EINVAL;
    }
    cli_pcapng_writer *w = calloc(1, sizeof *w);
    char *copy = w ? strdup(path) : NULL;
    if (!copy) {
        free(w);
        tt__set_err(err, "%s: %s", path, "out of memory");
        return TT_ENOMEM;
    }
    w->path = copy;
    w->f = fopen(path, "wb");
    if (!w->f) {
        int e = errno;
        tt__set_err(err, "%s: %s", path, strerror(e));
        free(w->path);
        free(w);
        return e == EACCES || e == EPERM ? TT_EPERM : e == ENOENT ? TT_ENOENT : TT_EIO;
    }

    size_t clen = present(shb_comment) ? opt_len(shb_comment) : 0;
    size_t ulen = present(userappl) ? opt_len(userappl) : 0;
    size_t opts = (clen ? opt_size(clen) : 0) + (ulen ? opt_size(ulen) : 0);
    if (opts)
        opts += 4; /* opt_endofopt */
    /* type, length, magic, major, minor, section length (64 bits), options, length */
    size_t total = 4 + 4 + 4 + 2 + 2 + 8 + opts + 4;

    put_u32(w, BT_SHB);
    put_u32(w, (uint32_t)total);
    put_u32(w, BYTE_ORDER_MAGIC);
    put_u16(w, 1);                 /* major version */
    put_u16(w, 0);                 /* minor version */
    uint64_t unknown = UINT64_MAX; /* section length -1: not given (we stream) */
    put(w, &unknown, sizeof unknown);
    if (clen)
        put_opt(w, OPT_COMMENT, shb_comment, clen);
    if (ulen)
        put_opt(w, SHB_USERAPPL, userappl, ulen);
    if (opts)
        put_opt(w, OPT_ENDOFOPT, NULL, 0);
    put_u32(w, (uint32_t)total);
    if (w->failed) {
        tt__set_err(err, "%s: %s", path, strerror(w->err_no));
        fclose(w->f);
        free(w->path);
        free(w);
        return TT_EIO;
    }
    *out = w;
    return 0;
}

int cli_pcapng_add_interface(cli_pcapng_writer *w, int linktype, uint32_t snaplen,
                             const char *if_name, uint32_t *if_id)
{
    if (linktype < 0 || linktype > 0xFFFF || w->nif >= MAX_INTERFACES)
        return TT_EINVAL;
    if (w->failed)
        return TT_EIO;
    static const uint8_t tsresol = 6; /* 10^-6 s: microseconds (also the default) */
    size_t nlen = present(if_name) ? opt_len(if_name) : 0;
    size_t opts = (nlen ? opt_size(nlen) : 0) + opt_size(1) + 4;
    /* type, length, link type, reserved, snaplen, options, length */
    size_t total = 4 + 4 + 2 + 2 + 4 + opts + 4;

    put_u32(w, BT_IDB);
    put_u32(w, (uint32_t)total);
    put_u16(w, (uint16_t)linktype);
    put_u16(w, 0); /* reserved */
    put_u32(w, snaplen);
    if (nlen)
        put_opt(w, IF_NAME, if_name, nlen);
    put_opt(w, IF_TSRESOL, &tsresol, 1);
    put_opt(w, OPT_ENDOFOPT, NULL, 0);
    put_u32(w, (uint32_t)total);
    if (w->failed)
        return TT_EIO;
    w->snaplen[w->nif] = snaplen;
    *if_id = w->nif++;
    return 0;
}

int cli_pcapng_write_packet(cli_pcapng_writer *w, uint32_t if_id, uint64_t ts_us,
                            const uint8_t *data, uint32_t caplen, uint32_t wirelen,
                            const char *const *comments, size_t ncomments)
{
    if (if_id >= w->nif || (caplen && !data) || (w->snaplen[if_id] && caplen > w->snaplen[if_id]))
        return TT_EINVAL;
    if (w->failed)
        return TT_EIO;
    uint64_t opts = 0;
    for (size_t i = 0; i < ncomments; i++) {
        if (present(comments[i]))
            opts += opt_size(opt_len(comments[i]));
    }
    if (opts)
        opts += 4; /* opt_endofopt */
    /* type, length, interface, ts high, ts low, caplen, wirelen, data, options, length */
    uint64_t total = 4 + 4 + 4 + 4 + 4 + 4 + 4 + (uint64_t)caplen + pad4(caplen) + opts + 4;
    if (total > UINT32_MAX)
        return TT_EINVAL;

    put_u32(w, BT_EPB);
    put_u32(w, (uint32_t)total);
    put_u32(w, if_id);
    put_u32(w, (uint32_t)(ts_us >> 32)); /* timestamp in if_tsresol units, high word first */
    put_u32(w, (uint32_t)(ts_us & 0xFFFFFFFFu));
    put_u32(w, caplen);
    put_u32(w, wirelen);
    put(w, data, caplen);
    put_pad(w, caplen);
    for (size_t i = 0; i < ncomments; i++) {
        if (present(comments[i]))
            put_opt(w, OPT_COMMENT, comments[i], opt_len(comments[i]));
    }
    if (opts)
        put_opt(w, OPT_ENDOFOPT, NULL, 0);
    put_u32(w, (uint32_t)total);
    if (w->failed)
        return TT_EIO;
    w->packets++;
    return 0;
}

uint64_t cli_pcapng_packets(const cli_pcapng_writer *w)
{
    return w->packets;
}

int cli_pcapng_close(cli_pcapng_writer *w, char *err)
{
    if (!w)
        return 0;
    int rc = 0;
    if (fflush(w->f) != 0 && !w->failed) {
        w->failed = true;
        w->err_no = errno ? errno : EIO;
    }
    if (fclose(w->f) != 0 && !w->failed) {
        w->failed = true;
        w->err_no = errno ? errno : EIO;
    }
    if (w->failed) {
        tt__set_err(err, "%s: %s", w->path, strerror(w->err_no));
        rc = TT_EIO;
    }
    free(w->path);
    free(w);
    return rc;
}
