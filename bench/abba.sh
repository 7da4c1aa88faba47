#!/usr/bin/env bash
# abba.sh - two tunneltap builds on one capture, alternating A B B A, for differences of a per cent or two.
#
#   bench/abba.sh ROUNDS FILE BIN_A BIN_B [replay options...]
#
# Each round runs `BIN replay FILE [options]` four times, A B B A (every
# other round B A A B), output to /dev/null, wall time from date +%s%N.
# Prints each build's median over its 2 x ROUNDS runs and the median of the
# rounds' paired differences (B - A, per run): a slow spell of the machine
# hits both builds of a round alike, so pairs cancel what medians of
# separate rounds cannot (bench/run.sh's 5-round medians do not resolve a
# 2 % change here: docs/PERFORMANCE.md). Negative: B is faster.
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: bench/abba.sh ROUNDS FILE BIN_A BIN_B [replay options...]" >&2
    exit 2
fi
rounds=$1 file=$2 bin_a=$3 bin_b=$4
shift 4
[ -r "$file" ] || { echo "abba.sh: cannot read $file" >&2; exit 2; }
for b in "$bin_a" "$bin_b"; do
    [ -x "$b" ] || { echo "abba.sh: $b is not an executable" >&2; exit 2; }
done

run() { # BIN: one replay; prints its wall time in units of 10 us
    local bin=$1 s e
    shift
    s=$(date +%s%N)
    "$bin" replay "$file" "$@" >/dev/null 2>&1 || { echo "abba.sh: $bin replay $file failed" >&2; exit 1; }
    e=$(date +%s%N)
    echo $(((e - s) / 10000))
}

ta=() tb=() pairs=()
for ((i = 0; i < rounds; i++)); do
    if ((i % 2)); then
        b1=$(run "$bin_b" "$@"); a1=$(run "$bin_a" "$@"); a2=$(run "$bin_a" "$@"); b2=$(run "$bin_b" "$@")
    else
        a1=$(run "$bin_a" "$@"); b1=$(run "$bin_b" "$@"); b2=$(run "$bin_b" "$@"); a2=$(run "$bin_a" "$@")
    fi
    ta+=("$a1" "$a2")
    tb+=("$b1" "$b2")
    pairs+=($((b1 + b2 - a1 - a2)))
done

median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
ms() { awk -v x="$1" -v d="$2" 'BEGIN {printf "%.2f", x / d}'; }
echo "A $bin_a: median $(ms "$(median "${ta[@]}")" 100) ms"
echo "B $bin_b: median $(ms "$(median "${tb[@]}")" 100) ms"
echo "B - A, median of $rounds rounds' pairs: $(ms "$(median "${pairs[@]}")" 200) ms a run"
