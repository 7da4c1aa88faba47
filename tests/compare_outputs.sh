#!/usr/bin/env bash
# compare_outputs.sh REF_BIN TEST_BIN DIR - two builds of tunneltap must give
# byte-identical outputs on every bundled capture and on ../shared's.
#
# Each capture is replayed by both binaries with every output written: the
# conn log, the JSON log, the alerts, the evidence pcapng, the HTML report and
# the summary (and the capture's filter-upgrade marker, captures/NAME.marker,
# when it has one, so the before/after comparison and its alerts run too).
# The outputs, the standard error and the exit status must match exactly, the
# conn log's #open/#close lines (wall-clock time of the run) aside. Outputs
# land in DIR/ref and DIR/test (each run in its own side's directory, so the
# paths it prints are the same), numbered as in DIR/index; the differences,
# if any, in DIR/diff.
#
# For builds the suite cannot tell apart: the sanitizer build at -O0 (make
# test-asan), another compiler (make test-clang), the Apple-like portable
# build (make test-portable), another architecture under qemu-user
# (tests/cross_aarch64.sh). Env: TT_SHARED (../shared).
set -uo pipefail
[ $# -eq 3 ] || {
    echo "usage: compare_outputs.sh REF_BIN TEST_BIN DIR" >&2
    exit 2
}
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
for b in "$1" "$2"; do
    [ -x "$b" ] || {
        echo "compare_outputs: no executable $b" >&2
        exit 2
    }
done
REF=$(abs "$1") TEST=$(abs "$2")
# DIR is emptied first: only if it is new, empty, or an earlier comparison's.
if [ -e "$3" ] && [ -n "$(ls -A "$3" 2>/dev/null)" ] && [ ! -d "$3/ref" ]; then
    echo "compare_outputs: $3 holds something else; give a new directory" >&2
    exit 2
fi
rm -rf "$3"
mkdir -p "$3/ref" "$3/test" || exit 2
DIR=$(abs "$3")
cd "$(dirname "$0")/.." || exit 2
shared=${TT_SHARED:-../shared}/captures-ndpi
n=0
for f in captures/*.pcap captures/*.pcapng "$shared"/*.pcap*; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    mark=()
    m=captures/$(basename "$f" | sed -E 's/-(raw|eth)\.pcap(ng)?$//').marker
    if [ -f "$m" ]; then
        read -r when label <"$m"
        mark=(--mark "$when=$label")
    fi
    echo "$n $f ${mark[*]}" >>"$DIR/index"
    cap=$(abs "$f")
    for side in ref test; do
        bin=$REF
        [ "$side" = test ] && bin=$TEST
        rc=0
        (cd "$DIR/$side" && "$bin" replay "$cap" "${mark[@]}" --conn-log "$n.conn" \
            --json "$n.json" --alerts "$n.alerts" --evidence "$n.pcapng" --report "$n.html" \
            >"$n.sum" 2>"$n.err") || rc=$?
        echo "exit $rc" >>"$DIR/$side/$n.sum"
    done
done
[ "$n" -gt 0 ] || {
    echo "compare_outputs: no capture found under captures/" >&2
    exit 1
}
if ! diff -r -I '^#open' -I '^#close' "$DIR/ref" "$DIR/test" >"$DIR/diff"; then
    head -20 "$DIR/diff" >&2
    echo "compare_outputs: $2's outputs differ from $1's ($DIR/diff; files numbered as in $DIR/index)" >&2
    exit 1
fi
[ -d "$shared" ] || shared="no $shared: its captures left out"
echo "compare_outputs: $n captures ($shared): conn log, JSON, alerts, evidence, report, summary and exit status of $2 identical to $1's"
