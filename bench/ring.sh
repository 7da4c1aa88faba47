#!/usr/bin/env bash
# ring.sh - build ring_bench (Release) and run it: the numbers behind
# docs/PERFORMANCE-ring.md. Not a test. Usage: bench/ring.sh [ring_bench args]
# Default: 9 reps x 200 ms, consumer reading the first 64 B of each packet,
# then a second pass where it reads every byte. Takes about 3 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-bench}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTT_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" --target ring_bench -j 2 >/dev/null

echo "== machine"
echo "nproc: $(nproc)"
lscpu | head -20
echo "kernel: $(uname -r)"
echo

if [ $# -gt 0 ]; then
  echo "== $BUILD/ring_bench $*"
  exec "$BUILD/ring_bench" "$@"
fi
echo "== $BUILD/ring_bench --reps 9 --ms 200"
"$BUILD/ring_bench" --reps 9 --ms 200
echo
echo "== $BUILD/ring_bench --reps 9 --ms 200 --touch all --quick"
"$BUILD/ring_bench" --reps 9 --ms 200 --touch all --quick
