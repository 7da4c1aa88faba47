#!/usr/bin/env bash
# soak.sh - `tunneltap bridge` under steady traffic for a long time: resident
# memory must stay flat and no original packet may be lost.
#
#   bench/soak.sh [MINUTES]          (default 30; decimals allowed, e.g. 0.5)
#
# Two namespaces joined only by the bridge (the recipe of tests/test_bridge.sh).
# For MINUTES: iperf3 TCP A -> B paced at SOAK_RATE (default 200M), restarted
# if it ends early; plus, when dnsmasq/socat are installed, a background
# workload once a second from A: DNS A and AAAA queries over v4 and v6 (each a
# new UDP flow), a short TCP exchange, a TCP connect to a closed port (RST), a
# UDP datagram to a closed port (ICMP unreachable), and a continuous
# `ping -6 -i 0.5`.
#
# Every 10 s: the bridge's VmRSS and VmHWM (/proc/PID/status) and, from
# `tunneltap status`, active flows and copies dropped.
#
# At the end, traffic stops, the counters settle, and three snapshots are
# taken while the devices still exist: kernel counters of both devices (`ip -s
# link`, inside the namespaces), the bridge's status JSON, kernel counters
# again (must equal the first: nothing moved). Then the bridge is stopped and
# its summary read. Checks:
#
#   RSS flat          last sample <= 1.05 x the sample at 1 minute (warm-up).
#                     The flow table is touched at start (prefault) but the
#                     two copy rings (2 x --ring-bytes, 2 MiB by default) are
#                     touched as they first fill: at the soak's rate within a
#                     second; at a few kB/s RSS climbs by up to 2 MiB over
#                     minutes before it is flat - not a leak.
#   zero lost         for each direction X -> Y:
#     originals         kernel TX packets of X (a TUN device counts a packet
#                       as transmitted when user space reads it)
#                       = packets the bridge read from X (status and summary)
#                       = packets the bridge wrote to Y + writes Y refused
#                       = kernel RX packets of Y + RX dropped of Y
#                     and the writes refused are 0 (steady state)
#
# Reported, not judged: the analyzer's certain failures that the workload did
# not have (its only failures are deliberate: refused connects, ICMP port
# unreachable), with the number of copies analysed out of time order; the
# kernel's TX drops at each TUN queue (the namespace
# sent a packet while the queue - txqueuelen 500 - was full, before the bridge
# could read it: the link's loss, which TCP answers by slowing down) and the
# tap's copies dropped (the tap is lossy by design).
#
# Prints a verdict line ("soak: PASS ..." / "soak: FAIL ...") and an RSS
# table; exit 0 on PASS, 1 on FAIL, 2 when it cannot run.
#
# Environment: TT_BIN (default build/tunneltap), SOAK_RATE (200M), OUT
# (default bench/out/soak), BRIDGE_ARGS (extra bridge options, e.g.
# "--conn-log /dev/null": note that --conn-log/--json keep every record in
# memory until exit, by design, so RSS then grows with the number of flows).
#
# Needs root, /dev/net/tun, iperf3, python3. Namespaces ttbench-sa-PID /
# ttbench-sb-PID; every process is stopped by PID.
set -uo pipefail

MINUTES=${1:-30}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
TT_BIN=${TT_BIN:-$ROOT/build/tunneltap}
OUT=${OUT:-$ROOT/bench/out/soak}
SOAK_RATE=${SOAK_RATE:-200M}
BRIDGE_ARGS=${BRIDGE_ARGS:-}
SAMPLE=10

die() { echo "soak: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root (namespaces, TUN devices)"
[ -c /dev/net/tun ] || die "/dev/net/tun is missing"
for t in ip iperf3 python3; do command -v "$t" >/dev/null || die "$t is not installed"; done
[ -x "$TT_BIN" ] || die "no tunneltap binary at $TT_BIN (build it, or set TT_BIN)"
SECS=$(awk -v m="$MINUTES" 'BEGIN {s = int(m * 60 + 0.5); if (s < 20) s = 0; print s}')
[ "$SECS" -gt 0 ] || die "MINUTES must be at least 1/3 (20 s), not '$MINUTES'"

ID=$$
NS_A=ttbench-sa-$ID NS_B=ttbench-sb-$ID
DEV_A=ttsA$ID DEV_B=ttsB$ID
V4_A=10.89.1.1 V4_B=10.89.1.2 V6_A=fd89:1::1 V6_B=fd89:1::2
mkdir -p "$OUT" || die "cannot create $OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ttbench-soak.XXXXXX")
CTL=$WORK/ctl.sock
BR_PID='' PIDS=() WL_PID='' IPERF_LOOP=''


# stop_pid PID: TERM, up to 2 s, KILL, reap (shared with the shell tests)
# shellcheck source=../tests/lib-check.sh
. "$ROOT/tests/lib-check.sh"
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
    local p
    touch "$WORK/stop" 2>/dev/null
    for p in $WL_PID $IPERF_LOOP $(cat "$WORK/iperf3.pid" 2>/dev/null) "${PIDS[@]}"; do stop_pid "$p"; done
    [ -n "$BR_PID" ] && stop_pid "$BR_PID"
    ip netns del "$NS_A" 2>/dev/null
    ip netns del "$NS_B" 2>/dev/null
    [ "${KEEP:-0}" = 1 ] && echo "kept $WORK" >&2 && return
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- setup ---------------------------------------------------------------------

for ns in "$NS_A" "$NS_B"; do
    ip netns add "$ns" || die "cannot create namespace $ns"
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 \
        net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.default.accept_ra=0 \
        net.ipv6.conf.default.dad_transmits=0 >/dev/null
done

# shellcheck disable=SC2086 # BRIDGE_ARGS is a list of options
"$TT_BIN" bridge --tun "$DEV_A" --tun "$DEV_B" --control "$CTL" $BRIDGE_ARGS \
    >"$WORK/bridge.out" 2>"$WORK/bridge.err" </dev/null &
BR_PID=$!
for _ in $(seq 1 200); do
    grep -q 'bridge: ready' "$WORK/bridge.err" && break
    kill -0 "$BR_PID" 2>/dev/null || { cat "$WORK/bridge.err" >&2; die "the bridge did not start"; }
    sleep 0.05
done
if ! { ip link set "$DEV_A" netns "$NS_A" && ip link set "$DEV_B" netns "$NS_B" &&
    ip -n "$NS_A" addr add "$V4_A/24" dev "$DEV_A" && ip -n "$NS_A" -6 addr add "$V6_A/64" dev "$DEV_A" nodad &&
    ip -n "$NS_B" addr add "$V4_B/24" dev "$DEV_B" && ip -n "$NS_B" -6 addr add "$V6_B/64" dev "$DEV_B" nodad &&
    ip -n "$NS_B" link set "$DEV_B" up && ip -n "$NS_A" link set "$DEV_A" up; }; then
    die "cannot set up the devices"
fi
# B first, then A, so that most start-up packets find the other side up. B's
# own first packets (IPv6 MLD reports) may still meet A down: EIO, counted as
# start-up by the snapshot below.
ok=0
for _ in $(seq 1 50); do
    ip netns exec "$NS_A" ping -c 1 -W 1 -q "$V4_B" >/dev/null 2>&1 &&
        ip netns exec "$NS_A" ping -6 -c 1 -W 1 -q "$V6_B" >/dev/null 2>&1 && ok=1 && break
    sleep 0.1
done
[ "$ok" = 1 ] || die "no ping across the bridge"
# Writes refused while one device was up and the other not yet (EIO) are
# start-up, not steady state: the check counts those after this point.
"$TT_BIN" status --control "$CTL" >"$OUT/status-start.json" 2>/dev/null || die "no status from the bridge"

start_bg() { # NAME NS CMD... : background process in a namespace, PID tracked
    local name=$1 ns=$2
    shift 2
    ip netns exec "$ns" "$@" >"$WORK/$name.log" 2>&1 </dev/null &
    PIDS+=($!)
}
start_bg iperf3-server "$NS_B" iperf3 -s
WORKLOAD=iperf3
if command -v dnsmasq >/dev/null && command -v socat >/dev/null && command -v dig >/dev/null; then
    start_bg dnsmasq "$NS_B" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
        --no-poll --bind-interfaces --listen-address="$V4_B" --listen-address="$V6_B" --port=53 \
        --pid-file= --user=root --address=/svc.lab/"$V4_B" --address=/svc.lab/"$V6_B"
    start_bg tcp-echo "$NS_B" socat TCP-LISTEN:7070,reuseaddr,fork SYSTEM:'echo ok'
    start_bg ping6 "$NS_A" ping -6 -i 0.5 -q "$V6_B"
    # once a second: DNS v4 A + v6 AAAA, a short TCP exchange, a refused
    # connect, a datagram to a closed UDP port; stops when $WORK/stop appears.
    (
        i=0
        while [ ! -e "$WORK/stop" ]; do
            i=$((i + 1))
            ip netns exec "$NS_A" dig +short +tries=1 +time=2 @"$V4_B" svc.lab A >/dev/null 2>&1 &&
                echo dns4 ok || echo dns4 fail
            ip netns exec "$NS_A" dig +short +tries=1 +time=2 @"$V6_B" svc.lab AAAA >/dev/null 2>&1 &&
                echo dns6 ok || echo dns6 fail
            ip netns exec "$NS_A" socat -T2 - TCP:"$V4_B":7070 </dev/null 2>/dev/null | grep -q ok &&
                echo tcp ok || echo tcp fail
            ip netns exec "$NS_A" socat -T1 - TCP:"$V4_B":7071 </dev/null >/dev/null 2>&1 &&
                echo closed open || echo closed refused
            echo x | ip netns exec "$NS_A" socat -T0.1 - UDP:"$V4_B":9999 >/dev/null 2>&1
            sleep 1
        done
    ) >"$WORK/workload.log" 2>&1 &
    WL_PID=$!
    WORKLOAD="iperf3 + DNS/TCP/refused/UDP/ping6 once a second"
else
    echo "soak: dnsmasq, socat or dig missing: iperf3 only" >&2
fi
# iperf3 A -> B at SOAK_RATE until the deadline, restarted if it stops early
# (its PID in iperf3.pid, so that it can be stopped by PID).
END=$(($(date +%s) + SECS))
(
    while [ "$(date +%s)" -lt $((END - 2)) ] && [ ! -e "$WORK/stop" ]; do
        left=$((END - $(date +%s)))
        ip netns exec "$NS_A" iperf3 -c "$V4_B" -b "$SOAK_RATE" -t "$left" -i 0 \
            >>"$WORK/iperf3.log" 2>&1 </dev/null &
        echo $! >"$WORK/iperf3.pid"
        wait $! || { echo "iperf3 ended early" >>"$WORK/iperf3.log"; sleep 1; }
    done
) &
IPERF_LOOP=$!

{
    echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "soak: $MINUTES min ($SECS s), bridge pid $BR_PID ($TT_BIN $BRIDGE_ARGS), devices $DEV_A ($NS_A) <-> $DEV_B ($NS_B)"
    echo "workload: $WORKLOAD; iperf3 TCP A -> B at ${SOAK_RATE}bit/s"
} | tee "$OUT/soak.txt" >&2

# ---- sampling ------------------------------------------------------------------

status_line() { # "active_flows created dropped submitted"
    "$TT_BIN" status --control "$CTL" 2>/dev/null | python3 -c '
import json, sys
try:
    j = json.load(sys.stdin)
    print(j["flows"]["active"], j["flows"]["created"], j["drops"]["total"], j["packets"]["submitted"])
except Exception:
    print("NA NA NA NA")'
}
printf 't_s\trss_kB\thwm_kB\tactive_flows\tflows_created\tcopies_dropped\tcopies_submitted\n' >"$OUT/rss.tsv"
T0=$(date +%s.%N)
n=0
while :; do
    now=$(date +%s.%N)
    t=$(awk -v a="$T0" -v b="$now" 'BEGIN {printf "%.0f", b - a}')
    read -r rss hwm < <(awk '/^VmRSS:/ {r = $2} /^VmHWM:/ {h = $2} END {print r, h}' "/proc/$BR_PID/status")
    [ -n "$rss" ] || { echo "soak: the bridge is gone" >&2; break; }
    read -r -a st < <(status_line)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$rss" "$hwm" "${st[@]}" >>"$OUT/rss.tsv"
    [ $((n % 6)) = 0 ] && echo "  t=${t}s rss=${rss}kB flows=${st[0]} dropped=${st[2]}" >&2
    n=$((n + 1))
    [ "$t" -ge "$SECS" ] && break
    sleep "$(awk -v a="$T0" -v n="$n" -v i="$SAMPLE" -v t="$(date +%s.%N)" \
        'BEGIN {d = a + n * i - t; if (d < 0) d = 0; printf "%.3f", d}')"
done

# ---- the end: stop traffic, settle, snapshot ----------------------------------

touch "$WORK/stop"
# The loops finish what they are doing (iperf3 ends at the deadline, the
# workload's current step within ~6 s), then the servers and ping6 stop.
for p in $IPERF_LOOP $WL_PID; do
    for _ in $(seq 1 75); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    stop_pid "$p"
done
[ -f "$WORK/iperf3.pid" ] && stop_pid "$(cat "$WORK/iperf3.pid")"
IPERF_LOOP='' WL_PID=''
for p in "${PIDS[@]}"; do stop_pid "$p"; done
PIDS=()
sleep 3 # the last retransmissions and FINs cross, nothing more is sent

kcount() { # "tx_packets tx_dropped rx_packets rx_dropped" of DEV in NS
    ip -n "$1" -s -j link show dev "$2" | python3 -c '
import json, sys
s = json.load(sys.stdin)[0]["stats64"]
print(s["tx"]["packets"], s["tx"]["dropped"], s["rx"]["packets"], s["rx"]["dropped"])'
}
k1a=$(kcount "$NS_A" "$DEV_A") k1b=$(kcount "$NS_B" "$DEV_B")
"$TT_BIN" status --control "$CTL" >"$OUT/status-end.json" 2>"$WORK/status.err"
k2a=$(kcount "$NS_A" "$DEV_A") k2b=$(kcount "$NS_B" "$DEV_B")
kill -INT "$BR_PID"
wait "$BR_PID"
br_rc=$?
BR_PID=
cp "$WORK/bridge.out" "$OUT/bridge-summary.txt"
cp "$WORK/bridge.err" "$OUT/bridge-stderr.txt"
cp "$WORK/iperf3.log" "$OUT/iperf3.log" 2>/dev/null
[ -f "$WORK/workload.log" ] && sort "$WORK/workload.log" | uniq -c >"$OUT/workload-outcomes.txt"

python3 - "$OUT" "$DEV_A" "$DEV_B" "$k1a" "$k1b" "$k2a" "$k2b" "$br_rc" "$SECS" <<'EOF' | tee -a "$OUT/soak.txt"
import csv, json, re, sys
out, dev_a, dev_b, k1a, k1b, k2a, k2b, br_rc, secs = sys.argv[1:]
secs = int(secs)
rows = [r for r in csv.DictReader(open(f'{out}/rss.tsv'), delimiter='\t')]
fails, notes = [], []

# -- RSS
t = [int(r['t_s']) for r in rows]
rss = [int(r['rss_kB']) for r in rows]
ref_i = min(range(len(t)), key=lambda i: abs(t[i] - 60))
ref, last = rss[ref_i], rss[-1]
growth = (last - ref) / ref * 100
after = rss[ref_i:]
print(f'RSS (kB) every 10 s: {len(rss)} samples; at {t[0]} s {rss[0]}, at {t[ref_i]} s (reference) {ref}, '
      f'last ({t[-1]} s) {last}: {growth:+.2f} %; after warm-up min {min(after)} max {max(after)}; '
      f'VmHWM {rows[-1]["hwm_kB"]}')
if t[-1] < 90:
    fails.append('run too short for an RSS trend (needs > 90 s)')
elif last > ref * 1.05:
    fails.append(f'RSS grew {growth:+.1f} % after the first minute (limit +5 %)')
# a small table: ~12 rows
step = max(1, len(rows) // 12)
show = sorted(set(list(range(0, len(rows), step)) + [ref_i, len(rows) - 1]))
print('\n| t (s) | VmRSS kB | vs 1 min | active flows | flows created | copies dropped |')
print('|--:|--:|--:|--:|--:|--:|')
for i in show:
    r = rows[i]
    print(f'| {r["t_s"]} | {r["rss_kB"]} | {(int(r["rss_kB"]) - ref) / ref * 100:+.1f} % | '
          f'{r["active_flows"]} | {r["flows_created"]} | {r["copies_dropped"]} |')

# -- counters
ka = list(map(int, k1a.split())); kb = list(map(int, k1b.split()))
if k1a != k2a or k1b != k2b:
    fails.append('kernel counters still moving at the end (traffic did not stop)')
st = json.load(open(f'{out}/status-end.json'))
dv = {d['name']: d for d in st['bridge']['devices']}
A, B = dv[dev_a], dv[dev_b]
summ = open(f'{out}/bridge-summary.txt').read()
def summary_dir(src, dst):
    m = re.search(rf'^bridge: {src} -> {dst} \(\w+\): (\d+) packets? \([^)]*\) read, (\d+) written(.*)$',
                  summ, re.M)
    return (int(m.group(1)), int(m.group(2)), m.group(3)) if m else (None, None, '')
st0 = json.load(open(f'{out}/status-start.json'))
werr0 = {d['name']: d['write_errors']['total'] for d in st0['bridge']['devices']}
print('\ncounters at the end (kernel: `ip -s link` inside the namespaces; bridge: status JSON / summary)\n')
print('| direction | kernel TX of source | bridge read (status / summary) | bridge wrote (status / summary) '
      '| writes refused (at start-up + after) | kernel RX of dest (+ RX dropped) | lost originals '
      '| kernel TX drops at source queue |')
print('|---|--:|--:|--:|--:|--:|--:|--:|')
for name, src, dst, ks, kd, sd in (('A -> B', A, B, ka, kb, summary_dir(dev_a, dev_b)),
                                   ('B -> A', B, A, kb, ka, summary_dir(dev_b, dev_a))):
    read, wrote, werr = src['read_packets'], dst['written_packets'], dst['write_errors']['total']
    w0 = werr0[dst['name']]
    lost = read - wrote - werr
    print(f'| {name} | {ks[0]} | {read} / {sd[0]} | {wrote} / {sd[1]} | {werr} ({w0} + {werr - w0}) | '
          f'{kd[2]} (+{kd[3]}) | {lost} | {ks[1]} |')
    if ks[0] != read:
        fails.append(f'{name}: the kernel counted {ks[0]} packets read from {src["name"]}, the bridge {read}')
    if sd[0] is None:
        fails.append(f'{name}: no bridge line in the summary')
    elif sd[0] != read or sd[1] != wrote:
        fails.append(f'{name}: summary ({sd[0]} read, {sd[1]} written) differs from the status')
    if lost:
        fails.append(f'{name}: {read} read but {wrote} written + {werr} refused: {lost} originals lost')
    if kd[2] + kd[3] != wrote:
        fails.append(f'{name}: the bridge wrote {wrote}, {dst["name"]} counted {kd[2]} received + {kd[3]} dropped')
    if kd[3]:
        notes.append(f'{name}: the kernel dropped {kd[3]} packets after the bridge wrote them to {dst["name"]}')
    if werr - w0:
        fails.append(f'{name}: {werr - w0} writes refused in steady state ({dst["write_errors"]})')
    if w0:
        notes.append(f'{name}: {w0} writes refused at start-up, before both devices were up '
                     f'({st0["bridge"]["devices"][[d["name"] for d in st0["bridge"]["devices"]].index(dst["name"])]["write_errors"]})')
    if src['read_errors']:
        fails.append(f'{name}: {src["read_errors"]} read errors')
    if ks[1]:
        notes.append(f'{name}: the kernel dropped {ks[1]} packets at {src["name"]}\'s full queue before the bridge read them')
c = st['packets']; d = st['drops']
print(f'\ntap: {c["submitted"]} copies submitted, {c["analysed"]} analysed, {d["ring_full"]} dropped (ring full), '
      f'{d["oversize"]} too big; flows created {st["flows"]["created"]}, active at the end {st["flows"]["active"]}')
if d['total']:
    notes.append(f'tap dropped {d["total"]} copies of {c["submitted"]} ({d["total"] / c["submitted"]:.2%}): the ring was full (lossy by design)')
# -- the analysis against the workload's own outcomes (reported, not judged):
# the workload's only failures are deliberate (connects to a closed TCP port:
# syn_rejected; datagrams to a closed UDP port: icmp_unreachable), so a
# certain syn_unanswered / unanswered / synack_unacked the workload did not
# see is a false failure of the analyzer.
import os
wl_fail = 0
if os.path.exists(f'{out}/workload-outcomes.txt'):
    for line in open(f'{out}/workload-outcomes.txt'):
        f = line.split()
        if len(f) == 3 and f[2] == 'fail':
            wl_fail += int(f[0])
bv, unc = st['flows']['by_verdict'], st['flows'].get('uncertain_by_verdict', {})
false = {v: bv.get(v, 0) - unc.get(v, 0) for v in ('syn_unanswered', 'unanswered', 'synack_unacked')}
m = re.search(r'(\d+) timestamps went backwards', summ)
back = int(m.group(1)) if m else 0
print(f'\nanalysis: the workload saw {wl_fail} failures of its own; the analyzer judged '
      + ', '.join(f'{n} {v}' for v, n in false.items()) + ' (certain), '
      f'{bv.get("midstream", 0)} midstream; copies analysed out of time order: {back}')
if sum(false.values()) > wl_fail:
    notes.append(f'the analyzer reported {sum(false.values()) - wl_fail} certain failures the workload did '
                 f'not have ({back} copies analysed out of time order, {d["total"]} dropped)')
if br_rc != '0':
    fails.append(f'the bridge exited with status {br_rc}')
mins = secs / 60
verdict = 'PASS' if not fails else 'FAIL'
print(f'\nsoak: {verdict} ({mins:g} min): RSS {ref} kB at 1 min -> {last} kB at the end ({growth:+.2f} %); '
      f'originals {A["read_packets"]} A->B and {B["read_packets"]} B->A read, all written '
      f'({A["written_packets"] + B["written_packets"]} delivered), '
      f'{st["write_errors"] - sum(werr0.values())} write errors in steady state' + ''.join(f'\n  FAIL: {f}' for f in fails)
      + ''.join(f'\n  note: {n}' for n in notes))
sys.exit(1 if fails else 0)
EOF
rc=$?
[ -f "$OUT/workload-outcomes.txt" ] && { echo "workload outcomes (count outcome):"; cat "$OUT/workload-outcomes.txt"; } | tee -a "$OUT/soak.txt"
echo "files: $OUT/{soak.txt,rss.tsv,status-start.json,status-end.json,bridge-summary.txt}" >&2
exit $rc
