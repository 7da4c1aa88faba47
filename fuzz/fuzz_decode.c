/* fuzz_decode.c - libFuzzer target: decoder + flow tracker (harness.h, format "decode").
 * Built twice: fuzz_decode (nDPI off, fast) and fuzz_decode_dpi (TT_FUZZ_DPI=1). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/harness.h"

#ifndef TT_FUZZ_DPI
#define TT_FUZZ_DPI 0
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tt_fuzz_decode(data, size, TT_FUZZ_DPI != 0);
    return 0;
}
