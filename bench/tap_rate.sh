#!/usr/bin/env bash
# tap_rate.sh - what a lossy tap's analysis thread costs at steady packet
# rates: one producer submits a small UDP copy at a fixed rate for SECS
# seconds into a default tap (own thread, nDPI off); the thread's CPU time
# is the process's less the producer's. Prints one line per rate and build.
#
#   bench/tap_rate.sh [SECS] [RATES...]        (default 1 s; 1000 5000 20000 100000)
#   BUILDS="build /path/to/other/build" bench/tap_rate.sh
#
# Each build directory must hold libtunneltap.a and libtt_ring.a (a CMake
# build of this tree or of another commit); the program (bench/tap_rate.c)
# is compiled against each. Repeat and take medians: the machine is noisy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
secs=${1:-1}
shift || true
rates=${*:-1000 5000 20000 100000}
builds=${BUILDS:-$root/build}
out=$here/out
mkdir -p "$out"
for b in $builds; do
    bin=$out/tap_rate-$(basename "$(dirname "$b")")-$(basename "$b")
    cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$root/include" -I"$root" -I"$root/tests" -o "$bin" \
        "$here/tap_rate.c" "$b/libtunneltap.a" "$b/libtt_ring.a" \
        $(pkg-config --libs libpcap libndpi) -lpthread -lm
    for r in $rates; do
        echo "$b: $("$bin" "$r" "$secs")"
    done
done
