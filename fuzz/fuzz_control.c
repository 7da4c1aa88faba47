/* fuzz_control.c - libFuzzer target: bytes sent on a control-socket
 * connection (mark/status line protocol) and the label sanitiser
 * (harness.h, format "control"). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tt_fuzz_control(data, size);
    return 0;
}
