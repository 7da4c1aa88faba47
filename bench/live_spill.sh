#!/usr/bin/env bash
# live_spill.sh - copies a live capture loses while its sorted logs are spilled: `tunneltap
# capture --sorted-logs` on one end of a veth pair in a namespace of its own, the SYN scan
# (bench/out/synscan-eth.pcap: a million connections, so several 64 MiB runs) sent into the
# other end by tcpreplay at a fixed rate; then the capture's own count of the packets the kernel
# dropped and of the copies dropped at its ring. Root; nothing leaves the namespace.
#
#   bench/live_spill.sh [RUNS] [PPS]            (defaults 2 and 120000)
#
# Environment: TT_BIN (default build/tunneltap), CAND_BIN (another build, run in the same
# repetitions, alternating), CAPTURE_ARGS (default "--sorted-logs --no-dpi"; "--no-dpi" alone
# measures the streamed logs).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-2} pps=${2:-120000}
pcap=bench/out/synscan-eth.pcap
[ -f "$pcap" ] || bench/make_capture.sh
command -v tcpreplay >/dev/null || { echo "live_spill.sh: needs tcpreplay" >&2; exit 1; }
read -r -a args <<<"${CAPTURE_ARGS:---sorted-logs --no-dpi}"
ns=tt-spill-$$ work=$(mktemp -d)
cleanup() {
    [ -n "${cap:-}" ] && kill "$cap" 2>/dev/null
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link add va type veth peer name vb
ip -n "$ns" link set va up
ip -n "$ns" link set vb up

printf '%-10s %4s %8s %9s %10s %12s\n' build run pps captured kernel_drop ring_drop
for r in $(seq "$runs"); do
    for b in tt ${CAND_BIN:+cand}; do
        bin=${TT_BIN:-build/tunneltap}
        [ "$b" = cand ] && bin=$CAND_BIN
        TMPDIR=$work ip netns exec "$ns" "$bin" capture -i vb "${args[@]}" \
            --conn-log "$work/conn.log" --no-control >"$work/out" 2>&1 &
        cap=$!
        sleep 1.5
        ip netns exec "$ns" tcpreplay -q -i va --pps="$pps" "$pcap" >/dev/null 2>&1
        sleep 1
        kill -INT "$cap"
        wait "$cap" || true
        cap=
        line=$(grep -m1 'packets captured' "$work/out")
        printf '%-10s %4s %8s %9s %10s %12s\n' "$b" "$r" "$pps" \
            "$(sed -n 's/.*: \([0-9]*\) packets captured.*/\1/p' <<<"$line")" \
            "$(sed -n 's/.*, \([0-9]*\) dropped by the kernel.*/\1/p' <<<"$line")" \
            "$(sed -n 's/.*analysed, \([0-9]*\) dropped (ring full).*/\1/p' <<<"$line")"
    done
done
