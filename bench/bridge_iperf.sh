#!/usr/bin/env bash
# bridge_iperf.sh - throughput of `tunneltap bridge` with iperf3, with the tap
# analysing against without it.
#
#   bench/bridge_iperf.sh [REPS] [SECS]          (defaults 5 and 10)
#   bench/bridge_iperf.sh --report                rebuilds the tables from $OUT/runs.tsv
#
# Three configurations, interleaved (the order shuffled every repetition,
# fixed by its number, so a busy neighbour costs them alike; a rotated order
# made each follow the same one every time), each started fresh per
# repetition:
#
#   without  bench/tun_forward.c: the bridge's poll loop, read, timestamp,
#            write - and no copy (built here with cc)
#   with     tunneltap bridge: every packet copied into the ring and analysed
#            on the tap's thread (nDPI on, the default)
#   stalled  tunneltap bridge --stall-analyzer: copies submitted, the ring
#            fills once, every later copy dropped; nothing analysed
#   cand     with CAND_BIN=PATH: `with` again, another tunneltap binary (a
#            previous build), in the same repetitions
#
# Each run: iperf3 TCP for SECS s (+1 s omitted: slow start), then iperf3 UDP
# at a fixed rate (UDP_RATE, default 200M) for SECS s, from namespace A
# through the bridge to a server in namespace B. For each: receiver's rate,
# TCP retransmits, UDP loss, the forwarder's CPU (utime+stime of the process
# and of its threads, from /proc, over the iperf3 run), and for tunneltap the
# tap's copies dropped and analysed out of order (from `tunneltap status`) and
# the bridge's write errors.
#
# Environment: TT_BIN (default build/tunneltap), UDP_RATE (200M), UDP_LEN
# (1400), OUT (default bench/out/bridge_iperf), BRIDGE_ARGS (extra options
# for the tunneltap configurations, e.g. --no-dpi), CONFIGS ("without with
# stalled", and cand when CAND_BIN is set).
#
# Needs root, /dev/net/tun, iperf3, python3, cc. Everything happens in the
# namespaces ttbench-a-PID / ttbench-b-PID created here (no route out); the
# devices disappear with the forwarder; processes are stopped by PID.
set -uo pipefail

REPORT_ONLY=0
if [ "${1:-}" = --report ]; then REPORT_ONLY=1; shift; fi
REPS=${1:-5}
SECS=${2:-10}
UDP_RATE=${UDP_RATE:-200M}
UDP_LEN=${UDP_LEN:-1400}
CAND_BIN=${CAND_BIN:-}
CONFIGS=${CONFIGS:-without with stalled${CAND_BIN:+ cand}}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# stop_pid PID: TERM, up to 2 s, KILL, reap (shared with the shell tests)
# shellcheck source=../tests/lib-check.sh
. "$ROOT/tests/lib-check.sh"
TT_BIN=${TT_BIN:-$ROOT/build/tunneltap}
OUT=${OUT:-$ROOT/bench/out/bridge_iperf}
BRIDGE_ARGS=${BRIDGE_ARGS:-}

die() { echo "bridge_iperf: $*" >&2; exit 2; }
report() {
    python3 - "$OUT/runs.tsv" "$UDP_RATE" >"$OUT/results.md" <<'EOF' || return 1
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter='\t'))
def num(x):
    try:
        v = float(x)
        return v if v == v else None
    except (TypeError, ValueError):
        return None
def per_packet(r, key):  # µs of CPU per packet read, from a CPU % column
    w, p, c = num(r['wall_s']), num(r['packets_read']), num(r[key])
    return None if None in (w, p, c) or not p else c / 100 * w * 1e6 / p
def stat(cfg, proto, key):
    v = [per_packet(r, key[4:]) if key.startswith('upp:') else num(r.get(key))
         for r in rows if r['config'] == cfg and r['proto'] == proto]
    v = [x for x in v if x is not None]
    return (statistics.median(v), min(v), max(v), len(v)) if v else (float('nan'),) * 3 + (0,)
cfgs = [c for c in ('without', 'with', 'stalled', 'cand') if any(r['config'] == c for r in rows)]
names = {'without': 'without tap (tun_forward.c)', 'with': 'with tap (tunneltap bridge)',
         'stalled': 'bridge --stall-analyzer', 'cand': 'with tap, CAND_BIN'}
for proto in ('tcp', 'udp'):
    base = stat('without', proto, 'mbps')[0]
    title = 'TCP' if proto == 'tcp' else 'UDP at %sbit/s' % sys.argv[2]
    print(f'\n{title}: medians over n runs [min-max]\n')
    print('| configuration | n | Mbit/s received | ratio to without | '
          + ('TCP retransmits' if proto == 'tcp' else 'UDP loss % (B socket drops)')
          + ' | CPU % process (fwd thread + tap thread) | CPU µs/packet process (fwd thread)'
          ' | copies dropped of submitted | copies out of order | TUN queue drops |')
    print('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
    for c in cfgs:
        m, e = stat(c, proto, 'mbps'), stat(c, proto, 'retrans_or_loss_pct')
        cpu, fwd, oth = (stat(c, proto, k)[0] for k in
                         ('cpu_pct', 'cpu_fwd_thread_pct', 'cpu_other_threads_pct'))
        upp, uppf = stat(c, proto, 'upp:cpu_pct')[0], stat(c, proto, 'upp:cpu_fwd_thread_pct')[0]
        d, sub = stat(c, proto, 'copies_dropped'), stat(c, proto, 'copies_submitted')
        drops = '-' if c == 'without' else f'{d[0]:.0f} of {sub[0]:.0f} [{d[1]:.0f}-{d[2]:.0f}]'
        o = stat(c, proto, 'copies_out_of_order')
        order = '-' if c == 'without' or not o[3] else f'{o[0]:.0f} [{o[1]:.0f}-{o[2]:.0f}]'
        ratio = m[0] / base if base == base and base else float('nan')
        if proto == 'tcp':
            extra = f'{e[0]:.0f} [{e[1]:.0f}-{e[2]:.0f}]'
        else:
            extra = (f'{e[0]:.2f} [{e[1]:.2f}-{e[2]:.2f}] '
                     f'({stat(c, proto, "udp_rcvbuf_errors_b")[0]:.0f})')
        threads = f'({fwd:.0f} + {oth:.0f})' if c != 'without' else f'({fwd:.0f})'
        print(f'| {names[c]} | {m[3]} | {m[0]:.0f} [{m[1]:.0f}-{m[2]:.0f}] | {ratio:.1%} | {extra} | '
              f'{cpu:.0f} {threads} | {upp:.2f} ({uppf:.2f}) | {drops} | {order} | '
              f'{stat(c, proto, "tun_queue_drops")[0]:.0f} |')
    # paired: the configurations of one repetition ran back to back
    by = {(r['config'], r['rep']): num(r['mbps']) for r in rows if r['proto'] == proto}
    paired = []
    for c in cfgs[1:]:
        q = [by[(c, k)] / by[('without', k)] for (cc, k) in by
             if cc == c and by.get(('without', k)) and by[(c, k)] is not None]
        if q:
            paired.append(f'{names[c]} / without {statistics.median(q):.1%} '
                          f'[{min(q):.0%}-{max(q):.0%}]')
    if paired:
        print('\nmedian of the per-repetition ratios: ' + '; '.join(paired))
EOF
    cat "$OUT/machine.txt" "$OUT/results.md"
    echo
    echo "every run: $OUT/runs.tsv; forwarder summaries: $OUT/summaries.txt"
}
if [ "$REPORT_ONLY" = 1 ]; then
    [ -f "$OUT/runs.tsv" ] || die "no $OUT/runs.tsv"
    report
    exit
fi
[ "$(id -u)" = 0 ] || die "needs root (namespaces, TUN devices)"
[ -c /dev/net/tun ] || die "/dev/net/tun is missing"
for t in ip iperf3 python3 cc; do command -v "$t" >/dev/null || die "$t is not installed"; done
[ -x "$TT_BIN" ] || die "no tunneltap binary at $TT_BIN (build it, or set TT_BIN)"

ID=$$
NS_A=ttbench-a-$ID NS_B=ttbench-b-$ID
DEV_A=ttbA$ID DEV_B=ttbB$ID
V4_A=10.89.0.1 V4_B=10.89.0.2
mkdir -p "$OUT" || die "cannot create $OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ttbench-iperf.XXXXXX")
CTL=$WORK/ctl.sock
FWD_PID='' SRV_PID=''

cleanup() {
    stop_pid "$FWD_PID"
    if [ -n "$SRV_PID" ]; then kill -TERM "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; fi
    ip netns del "$NS_A" 2>/dev/null
    ip netns del "$NS_B" 2>/dev/null
    [ "${KEEP:-0}" = 1 ] && echo "kept $WORK" >&2 && return
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -O2 -Wall -o "$WORK/tun_forward" "$HERE/tun_forward.c" || die "cannot build tun_forward.c"

for ns in "$NS_A" "$NS_B"; do
    ip netns add "$ns" || die "cannot create namespace $ns"
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 \
        net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.default.accept_ra=0 >/dev/null
done

# iperf3 server in B, wildcard bind: it outlives the devices that come and go.
ip netns exec "$NS_B" iperf3 -s >"$WORK/server.log" 2>&1 </dev/null &
SRV_PID=$!

# ---- building blocks ---------------------------------------------------------

# fwd_start CONFIG : starts the forwarder of that configuration, waits for
# "ready", moves, addresses and raises the devices, waits for a ping.
fwd_start() {
    local cfg=$1 _
    : >"$WORK/fwd.err"
    case $cfg in
    without) "$WORK/tun_forward" "$DEV_A" "$DEV_B" >"$WORK/fwd.out" 2>"$WORK/fwd.err" </dev/null & ;;
    with) # shellcheck disable=SC2086 # BRIDGE_ARGS is a list of options
        "$TT_BIN" bridge --tun "$DEV_A" --tun "$DEV_B" --control "$CTL" $BRIDGE_ARGS \
            >"$WORK/fwd.out" 2>"$WORK/fwd.err" </dev/null & ;;
    stalled) # shellcheck disable=SC2086
        "$TT_BIN" bridge --tun "$DEV_A" --tun "$DEV_B" --control "$CTL" --stall-analyzer $BRIDGE_ARGS \
            >"$WORK/fwd.out" 2>"$WORK/fwd.err" </dev/null & ;;
    cand) # shellcheck disable=SC2086
        "${CAND_BIN:?cand needs CAND_BIN}" bridge --tun "$DEV_A" --tun "$DEV_B" --control "$CTL" $BRIDGE_ARGS \
            >"$WORK/fwd.out" 2>"$WORK/fwd.err" </dev/null & ;;
    *) die "unknown configuration $cfg" ;;
    esac
    FWD_PID=$!
    for _ in $(seq 1 200); do
        grep -q ': ready' "$WORK/fwd.err" && break
        kill -0 "$FWD_PID" 2>/dev/null || { cat "$WORK/fwd.err" >&2; return 1; }
        sleep 0.05
    done
    ip link set "$DEV_A" netns "$NS_A" && ip link set "$DEV_B" netns "$NS_B" &&
        ip -n "$NS_A" addr add "$V4_A/24" dev "$DEV_A" &&
        ip -n "$NS_B" addr add "$V4_B/24" dev "$DEV_B" &&
        ip -n "$NS_A" link set "$DEV_A" up && ip -n "$NS_B" link set "$DEV_B" up || return 1
    for _ in $(seq 1 50); do
        ip netns exec "$NS_A" ping -c 1 -W 1 -q "$V4_B" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "bridge_iperf: $cfg: no ping across the forwarder" >&2
    return 1
}

fwd_stop() {
    kill -INT "$FWD_PID" 2>/dev/null
    wait "$FWD_PID" 2>/dev/null
    FWD_PID=
}

# cpu_ticks PID : "total main other" utime+stime in clock ticks (main = the
# forwarding thread, whose tid is the PID; other = every other thread).
cpu_ticks() {
    local pid=$1 t main=0 other=0 v
    for t in /proc/"$pid"/task/*; do
        v=$(sed 's/^.*) //' "$t/stat" 2>/dev/null | awk '{print $12 + $13}')
        [ -n "$v" ] || continue
        if [ "${t##*/}" = "$pid" ]; then main=$((main + v)); else other=$((other + v)); fi
    done
    echo "$((main + other)) $main $other"
}

# status_drops : "submitted dropped analysed write_errors ts_backwards" from
# the running bridge (NA for a field an older binary does not report).
status_drops() {
    "$TT_BIN" status --control "$CTL" 2>/dev/null | python3 -c '
import json, sys
try:
    j = json.load(sys.stdin)
    print(j["packets"]["submitted"], j["drops"]["total"], j["packets"]["analysed"], j["write_errors"],
          j["packets"].get("ts_backwards", "NA"))
except Exception:
    print("NA NA NA NA NA")'
}

HZ=$(getconf CLK_TCK)

# tun_counters : "queue_drops read_packets udp_rcvbuf_errors". queue_drops:
# packets the kernel dropped at the two TUN devices (transmit queue full -
# the namespace sent them, the forwarder had not read them yet, txqueuelen
# 500 - plus receive drops). read_packets: the devices' TX packets, which a
# TUN device counts when user space reads them, i.e. packets the forwarder
# read in both directions. udp_rcvbuf_errors: datagrams B's UDP sockets
# dropped (iperf3's server not reading fast enough).
tun_counters() {
    local a b u
    a=$(ip -n "$NS_A" -s -j link show dev "$DEV_A" 2>/dev/null)
    b=$(ip -n "$NS_B" -s -j link show dev "$DEV_B" 2>/dev/null)
    # shellcheck disable=SC2016 # an awk program
    u=$(ip netns exec "$NS_B" awk '/^Udp:/ {if (h) print $6; h = 1}' /proc/net/snmp 2>/dev/null)
    python3 -c '
import json, sys
d = r = 0
for s in sys.argv[1:3]:
    st = json.loads(s)[0]["stats64"]
    d += st["tx"]["dropped"] + st["rx"]["dropped"]
    r += st["tx"]["packets"]
print(d, r, sys.argv[3] or "NA")' "$a" "$b" "$u" 2>/dev/null || echo NA NA NA
}

# measure CONFIG REP PROTO : one iperf3 run, one line appended to runs.tsv.
measure() {
    local cfg=$1 rep=$2 proto=$3 t0 t1 c0 c1 d0 d1 q0 q1 js
    js=$WORK/$cfg-$rep-$proto.json
    d0=(NA NA NA NA NA)
    [ "$cfg" != without ] && read -r -a d0 < <(status_drops)
    read -r -a q0 < <(tun_counters)
    read -r -a c0 < <(cpu_ticks "$FWD_PID")
    t0=$(date +%s.%N)
    if [ "$proto" = tcp ]; then
        ip netns exec "$NS_A" iperf3 -c "$V4_B" -t "$SECS" -O 1 -J >"$js" 2>"$js.err"
    else
        ip netns exec "$NS_A" iperf3 -c "$V4_B" -u -b "$UDP_RATE" -l "$UDP_LEN" -t "$SECS" -J \
            >"$js" 2>"$js.err"
    fi
    t1=$(date +%s.%N)
    read -r -a c1 < <(cpu_ticks "$FWD_PID")
    read -r -a q1 < <(tun_counters)
    d1=(NA NA NA NA NA)
    [ "$cfg" != without ] && read -r -a d1 < <(status_drops)
    python3 - "$js" "$cfg" "$rep" "$proto" "$t0" "$t1" "$HZ" "${c0[*]}" "${c1[*]}" "${d0[*]}" "${d1[*]}" "${q0[*]}" "${q1[*]}" \
        >>"$OUT/runs.tsv" <<'EOF'
import json, sys
js, cfg, rep, proto, t0, t1, hz, c0, c1, d0, d1, q0, q1 = sys.argv[1:]
def qd(i):
    a, b = q0.split()[i], q1.split()[i]
    return 'NA' if 'NA' in (a, b) else int(b) - int(a)
qdrops, pkts, rcvbuf = qd(0), qd(1), qd(2)
wall = float(t1) - float(t0)
c0, c1 = [int(x) for x in c0.split()], [int(x) for x in c1.split()]
cpu = [100.0 * (b - a) / int(hz) / wall for a, b in zip(c0, c1)]
cpu_us_pkt = 'NA' if pkts in ('NA', 0) else '%.2f' % ((c1[0] - c0[0]) / int(hz) * 1e6 / pkts)
def delta(i):
    a, b = d0.split()[i], d1.split()[i]
    return 'NA' if 'NA' in (a, b) else str(int(b) - int(a))
try:
    j = json.load(open(js))
    end = j['end']
    if proto == 'tcp':
        mbps = end['sum_received']['bits_per_second'] / 1e6
        extra = end['sum_sent'].get('retransmits', 0)
    else:
        mbps = end['sum_received']['bits_per_second'] / 1e6
        extra = '%.3f' % end['sum']['lost_percent']
    err = ''
except Exception as e:
    mbps, extra, err = float('nan'), 'NA', 'iperf3 failed: %s' % (j.get('error') if 'j' in dir() else e)
print('\t'.join([cfg, rep, proto, '%.1f' % mbps, str(extra), '%.1f' % cpu[0], '%.1f' % cpu[1],
                 '%.1f' % cpu[2], delta(0), delta(1), str(qdrops), str(pkts), cpu_us_pkt,
                 str(rcvbuf), '%.1f' % wall, delta(4), err]))
EOF
}

# ---- the runs ------------------------------------------------------------------

{
    echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), kernel $(uname -r)"
    echo "tunneltap: $TT_BIN (tree at $(git -C "$(dirname "$TT_BIN")" rev-parse --short HEAD 2>/dev/null || echo '?'), binary of $(date -r "$TT_BIN" '+%F %T'))"
    [ -z "$CAND_BIN" ] || echo "cand: $CAND_BIN (binary of $(date -r "$CAND_BIN" '+%F %T'))"
    echo "iperf3: $(iperf3 --version | head -1)"
    echo "runs: $REPS repetitions x {$CONFIGS}, iperf3 TCP ${SECS}s (+1s omitted), UDP ${UDP_RATE}bit/s x ${UDP_LEN} B for ${SECS}s${BRIDGE_ARGS:+, bridge options: $BRIDGE_ARGS}"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt" >&2
printf 'config\trep\tproto\tmbps\tretrans_or_loss_pct\tcpu_pct\tcpu_fwd_thread_pct\tcpu_other_threads_pct\tcopies_submitted\tcopies_dropped\ttun_queue_drops\tpackets_read\tcpu_us_per_packet\tudp_rcvbuf_errors_b\twall_s\tcopies_out_of_order\terror\n' \
    >"$OUT/runs.tsv"
: >"$OUT/summaries.txt"

# Bytes for shuf that depend only on $1.
seed() { for i in $(seq 64); do echo "$1 $i" | sha256sum; done; }
for rep in $(seq 1 "$REPS"); do
    for cfg in $(tr ' ' '\n' <<<"$CONFIGS" | shuf --random-source=<(seed "$rep")); do
        echo "rep $rep/$REPS: $cfg" >&2
        if ! fwd_start "$cfg"; then
            echo "bridge_iperf: $cfg did not start" >&2
            fwd_stop
            continue
        fi
        measure "$cfg" "$rep" tcp
        measure "$cfg" "$rep" udp
        fwd_stop
        { echo "== $cfg rep $rep"; grep -E '^(bridge|copies|forward)' "$WORK/fwd.out"; } >>"$OUT/summaries.txt"
        tail -n 2 "$OUT/runs.tsv" | cut -f1-14 | sed 's/^/  /' >&2
    done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt" >&2

# ---- the table -----------------------------------------------------------------

report
