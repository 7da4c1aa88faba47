#!/usr/bin/env bash
# fuzz.sh [SECONDS] - builds the libFuzzer targets and runs each for SECONDS
# (default 60), two at a time, printing executions, coverage and corpus size.
#
#   fuzz_decode      decoder + flow tracker, 16 flows (eviction), nDPI off
#   fuzz_decode_dpi  the same inputs with nDPI on (slow: ~30 ms per input)
#   fuzz_pcapfile    whole pcap/pcapng files through tt_pcapfile_* + analyzer
#   fuzz_control     control-socket requests (mark/status) + label sanitiser
#
# Needs clang with libFuzzer (Debian: clang); without it prints SKIP and exits 0.
# Builds in $TT_FUZZ_BUILD (default build-fuzz) through fuzz/fuzz.cmake when
# CMakeLists.txt includes it, else with clang directly. Corpora grow in
# $TT_FUZZ_BUILD/corpus/<target> across runs (seeds regenerated from
# captures/ by fuzz/make_seeds.sh); crashes land in $TT_FUZZ_BUILD/artifacts/.
# Exit status 1 when any target crashed, leaked or hit UB in this run.
# Env: TT_FUZZ_TARGETS (default: all four), TT_FUZZ_JOBS (2).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
SECS=${1:-60}
B=${TT_FUZZ_BUILD:-build-fuzz}
TARGETS=${TT_FUZZ_TARGETS:-decode pcapfile control decode_dpi}
JOBS=${TT_FUZZ_JOBS:-2}

CLANG=$(command -v clang || command -v clang-14 || true)
if [ -z "$CLANG" ] || ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
    "$CLANG" -x c -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then
    echo "fuzz.sh: SKIP: clang with libFuzzer not found (apt-get install clang)"
    exit 0
fi

build_cmake() {
    cmake -S . -B "$B" -DCMAKE_C_COMPILER="$CLANG" -DTT_FUZZ=ON -DTT_BUILD_TESTS=OFF \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTT_WERROR=ON >/dev/null &&
        cmake --build "$B" -j 2 --target fuzz_all >"$B/build.log" 2>&1
}

build_direct() { # the same as fuzz/fuzz.cmake, without CMake
    local san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O2"
    local inc="-Iinclude -I. -D_GNU_SOURCE -std=c11"
    local pc
    pc=$(pkg-config --cflags --libs libpcap libndpi jansson) || return 1
    mkdir -p "$B/obj"
    printf '%s\n' analyze/*.c capture/*.c ring/*.c fuzz/harness.c | xargs -P 2 -I{} sh -c \
        "$CLANG $inc $san -fsanitize=fuzzer-no-link -DTT_BUILDING_LIBRARY \$(pkg-config --cflags libndpi) -c {} -o $B/obj/\$(echo {} | tr / _).o" ||
        return 1
    local t src def
    for t in decode decode_dpi pcapfile control; do
        src=fuzz/fuzz_${t%_dpi}.c
        def=""
        [ "$t" = decode_dpi ] && def=-DTT_FUZZ_DPI=1
        # shellcheck disable=SC2086
        "$CLANG" $inc $san -fsanitize=fuzzer $def "$src" "$B"/obj/*.o $pc -lpthread -lm \
            -o "$B/fuzz_$t" || return 1
    done
}

mkdir -p "$B"
t0=$(date +%s)
if grep -q 'fuzz/fuzz.cmake' CMakeLists.txt; then
    build_cmake || {
        echo "fuzz.sh: build failed, see $B/build.log" >&2
        tail -20 "$B/build.log" >&2
        exit 1
    }
else
    build_direct || {
        echo "fuzz.sh: build failed" >&2
        exit 1
    }
fi
echo "fuzz.sh: built in $(($(date +%s) - t0)) s"
fuzz/make_seeds.sh "$B/seeds" >/dev/null

maxlen() {
    case $1 in
    pcapfile) echo 65536 ;;
    control) echo 1024 ;;
    *) echo 4096 ;;
    esac
}

run_target() { # TARGET: runs it, leaves its log in $B/logs/TARGET.log
    local t=$1 seeds=$1
    [ "$t" = decode_dpi ] && seeds=decode
    mkdir -p "$B/corpus/$t" "$B/artifacts/$t" "$B/logs"
    # decode_dpi starts from the decode seeds (nDPI costs ~30 ms per input:
    # its own corpus grows slowly, so it is kept apart from decode's)
    "$B/fuzz_$t" -max_total_time="$SECS" -max_len="$(maxlen "$t")" -timeout=20 \
        -rss_limit_mb=3072 -print_final_stats=1 -artifact_prefix="$B/artifacts/$t/" \
        "$B/corpus/$t" "$B/seeds/$seeds" >"$B/logs/$t.log" 2>&1
    echo $? >"$B/logs/$t.rc"
}

before=$(find "$B/artifacts" -type f 2>/dev/null | wc -l)
running=0
for t in $TARGETS; do
    run_target "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

status=0
printf '%-12s %12s %8s %6s %6s %9s %s\n' target executions exec/s cov ft corpus result
for t in $TARGETS; do
    log=$B/logs/$t.log
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p')
    rc=$(cat "$B/logs/$t.rc" 2>/dev/null || echo 1)
    res=ok
    if [ "$rc" -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
        res="CRASH (see $log)"
        status=1
    fi
    printf '%-12s %12s %8s %6s %6s %9s %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
        "${ft:-?}" "${corp:-?}" "$res"
done
after=$(find "$B/artifacts" -type f 2>/dev/null | wc -l)
if [ "$after" -gt "$before" ]; then
    echo "fuzz.sh: $((after - before)) new crash input(s) in $B/artifacts/:" >&2
    find "$B/artifacts" -type f -newer "$B/seeds" >&2
    echo "minimise: $B/fuzz_TARGET -minimize_crash=1 -runs=100000 -exact_artifact_path=captures/fuzz/TARGET-what.bin CRASH" >&2
    status=1
fi
exit $status
