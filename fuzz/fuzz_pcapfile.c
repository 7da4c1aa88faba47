/* fuzz_pcapfile.c - libFuzzer target: a whole pcap/pcapng file through
 * tt_pcapfile_open/next/each and an analyzer (harness.h, format "pcapfile"). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tt_fuzz_pcapfile(data, size);
    return 0;
}
