/* tsan_connbuf.c - sorted-log runs written by the background writer thread: every record read back
 * once, in order, under ThreadSanitizer. A plain program, not Criterion (which cannot run under
 * TSan): ctest -L tsan runs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tests/plain_check.h"

int main(void)
{
    /* 50 runs of 1 000 records in the background (and 500 left in memory),
     * added in a shuffled order: every add that fills a run hands it to the
     * writer while the next records go into the other array. */
    size_t run = 1000, n = 50 * run + 500;
    cli_connbuf b = {0};
    cli_connbuf_spill(&b, 2 * run * sizeof(tt_conn), true);
    for (size_t i = 0; i < n; i++) {
        size_t k = (i * 7919u) % n;
        tt_conn c;
        memset(&c, 0, sizeof c);
        c.ts_us = 1764244985000000u + k;
        snprintf(c.uid, sizeof c.uid, "C%07zu", k);
        c.service = k % 3 ? "dns" : NULL;
        CHECK(cli_connbuf_add(&b, &c) == 0);
        CHECK(cli_connbuf_count(&b) == i + 1);
    }
    CHECK(cli_connbuf_sort(&b) == 0);
    CHECK(b.spill_errno == 0);
    CHECK(b.nruns == 50);
    CHECK(b.n == 500);
    cli_connbuf_iter it;
    CHECK(cli_connbuf_iter_open(&it, &b) == 0);
    size_t got = 0;
    for (const tt_conn *c; (c = cli_connbuf_iter_next(&it)) != NULL; got++) {
        CHECK(c->ts_us == 1764244985000000u + got);
        CHECK(c->service == NULL || strcmp(c->service, "dns") == 0);
    }
    CHECK(it.err == 0);
    CHECK(got == n);
    cli_connbuf_iter_close(&it);
    cli_connbuf_free(&b);
    printf("tsan_connbuf: %zu records in %zu background runs read back in order\n", n, (size_t)50);
    return 0;
}
