/* test_fuzz_regress.c - every input the fuzzers ever broke tunneltap with
 * (captures/fuzz/NAME.bin or .pcap) replayed through the same harness code
 * (fuzz/harness.c), plus the real captures through the capture-file harness.
 * A regression aborts inside the harness with the invariant that broke (or
 * trips ASan/UBSan in the sanitizer build), and Criterion reports the crash.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "fuzz/harness.h"

/* Replays every regular file in dir whose name has a harness prefix. */
static unsigned replay_dir(const char *dir, bool all_must_be_known)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    struct dirent *e;
    unsigned n = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "README.md") == 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int rc = tt_fuzz_replay_file(path);
        if (rc < 0 && !all_must_be_known)
            continue;
        cr_assert_eq(rc, 0, "%s: unknown prefix or unreadable", path);
        n++;
    }
    closedir(d);
    return n;
}

Test(fuzz_regress, every_saved_crash_input_replays_cleanly)
{
    replay_dir(TT_CAPTURES_DIR "/fuzz", true);
}

Test(fuzz_regress, every_real_capture_passes_the_capture_file_harness)
{
    DIR *d = opendir(TT_CAPTURES_DIR);
    cr_assert_not_null(d);
    struct dirent *e;
    unsigned n = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".pcap") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", TT_CAPTURES_DIR, e->d_name);
        FILE *fp = fopen(path, "rb");
        cr_assert_not_null(fp);
        static uint8_t buf[1 << 22];
        size_t got = fread(buf, 1, sizeof buf, fp);
        fclose(fp);
        cr_assert_eq(tt_fuzz_pcapfile(buf, got), 0);
        n++;
    }
    closedir(d);
    cr_assert_geq(n, 10);
}

Test(fuzz_regress, harness_inputs_of_every_shape_run_cleanly)
{
    /* Smoke inputs for each harness, so the test means something even
     * while captures/fuzz holds no crash. */
    static const uint8_t dec[] = {5, 0x0f, 0, 20, 0, 0, 0x45, 0,  0, 20, 0, 0,    0,    0,   64,
                                  6, 0,    0, 10, 0, 0, 1,    10, 0, 0,  2, 0xff, 0xff, 255, 9};
    for (unsigned link = 0; link < 8; link++) {
        uint8_t in[sizeof dec];
        memcpy(in, dec, sizeof dec);
        in[0] = (uint8_t)link;
        cr_assert_eq(tt_fuzz_decode(in, sizeof in, false), 0);
    }
    cr_assert_eq(tt_fuzz_decode(dec, sizeof dec, true), 0);
    cr_assert_eq(tt_fuzz_pcapfile((const uint8_t *)"", 0), 0);
    static const char ctl[] = "status\nmark a label\nmark\nbogus\n";
    int rc = tt_fuzz_control((const uint8_t *)ctl, sizeof ctl - 1);
    cr_assert(rc == 0 || rc == -1); /* -1: no socket here (sandbox), not a finding */
}
