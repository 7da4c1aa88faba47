#!/usr/bin/env bash
# test_capture_live.sh - `tunneltap capture` end to end: a veth pair between two
# namespaces, servers in one, clients and the capture in the other; the flows
# must come out with the verdicts the clients saw. Also mark/status against the
# running capture, and the errors for a bad interface or filter.
#
# Needs root and the lab tools (iproute2, nftables, nginx-light, dnsmasq, socat,
# curl, dig, ping, python3); skips (77) without them. Everything happens in
# namespaces ttcap-a-$$ / ttcap-b-$$ created here; processes are stopped by PID.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib-check.sh
. "$HERE/lib-check.sh"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, live capture)"
for t in ip nft nginx dnsmasq socat curl dig ping python3 ss; do
    command -v "$t" >/dev/null 2>&1 || skip "$t is not installed (scripts/deps.sh --test)"
done
BIN=${TT_BIN:?TT_BIN must name the tunneltap binary}
case $("$BIN" capture --help 2>&1) in *"not available"*)
    skip "this tunneltap build has no 'capture' command yet (cli/main.c does not wire it)" ;;
esac
# shellcheck source-path=SCRIPTDIR source=../captures/lib-lab.sh
. "$HERE/../captures/lib-lab.sh"

ID=$$
NS_A=ttcap-a-$ID NS_B=ttcap-b-$ID
IF_A=veth-a IF_B=veth-b # each in its own namespace
V4_A=10.89.0.1 V4_B=10.89.0.2 V6_A=fd89::1 V6_B=fd89::2
PORT_TCP_BLACKHOLE=8080 PORT_UDP_BLACKHOLE=5301
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tt-capture.XXXXXX")
CTL=$TMP/ctl.sock
CTL2=$TMP/ctl2.sock
CAP_PID='' STREAM_PID='' QUIET_PID=''

LAB_ID=cap$ID
lab_init || exit 1
LAB_NS_CLI=$NS_A LAB_NS_SRV=$NS_B LAB_NS_RTR=$NS_B
LAB_V4_CLI=$V4_A LAB_V6_CLI=$V6_A LAB_V4_SRV=$V4_B LAB_V6_SRV=$V6_B
LAB_ACTIONS_LOG=$TMP/actions.log

cleanup() {
    local p
    for p in "${LAB_ACTION_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    lab_workload_wait
    lab_servers_stop
    stop_pid "$CAP_PID"
    stop_pid "$STREAM_PID"
    stop_pid "$QUIET_PID"
    lab_ns_destroy "$NS_A"
    lab_ns_destroy "$NS_B"
    [ "${KEEP:-0}" = 1 ] && echo "kept $TMP and $LAB_STATE" >&2 && return
    rm -rf "$TMP" "$LAB_STATE"
}
trap cleanup EXIT

dump() { sed "s/^/    $1: /" "$2" | tail -30 >&2; }

# ---- usage and setup errors (no namespace needed) ------------------------------

"$BIN" capture -i nosuch$ID --no-control >/dev/null 2>"$TMP/e1.err"
rc=$?
check "bad interface: exit 2 (got $rc)" test "$rc" = 2
check "bad interface: says which" grep -q "no such interface 'nosuch$ID'" "$TMP/e1.err"
"$BIN" capture >/dev/null 2>"$TMP/e2.err"
check "no interface: exit 2" test $? = 2
check "no interface: says so" grep -q "no interface given (-i IFACE)" "$TMP/e2.err"
"$BIN" capture -i lo --bpf 'tcp port' --no-control >/dev/null 2>"$TMP/e3.err"
check "bad filter: exit 2" test $? = 2
check "bad filter: says so" grep -q "bad filter expression 'tcp port'" "$TMP/e3.err"
"$BIN" capture -i lo --snaplen 10 >/dev/null 2>"$TMP/e4.err"
check "tiny snaplen: refused" grep -q -- "--snaplen wants a byte count from 96" "$TMP/e4.err"
"$BIN" capture -i lo --buffer-size 1k >/dev/null 2>"$TMP/e6.err"
check "tiny kernel buffer: exit 2" test $? = 2
check "tiny kernel buffer: refused" grep -q -- "--buffer-size wants 256k to 1024M, not '1k'" "$TMP/e6.err"
# The kernel's buffer is the one asked for: libpcap maps it (twice the size
# asked for, here), 32M by default, 2M when told.
for want in "32M 33554432" "2M 2097152"; do
    set -- $want
    args=()
    [ "$1" = 32M ] || args=(--buffer-size "$1")
    strace -f -e trace=mmap -o "$TMP/buf.strace" "$BIN" capture -i lo --duration 0.2 --no-control \
        "${args[@]}" >/dev/null 2>&1
    mapped=$(sed -n 's/.*mmap(NULL, \([0-9]*\), PROT_READ|PROT_WRITE, MAP_SHARED, [0-9]*, 0).*/\1/p' \
        "$TMP/buf.strace" | head -1)
    check "kernel buffer $1: mapped ${mapped:-nothing} bytes, at least $2 and under 4x" \
        test "${mapped:-0}" -ge "$2" -a "${mapped:-0}" -lt $(($2 * 4))
done
"$BIN" capture -i lo --stream-logs --sorted-logs --conn-log "$TMP/e5.log" >/dev/null 2>"$TMP/e5.err"
check "--stream-logs with --sorted-logs: exit 2" test $? = 2
check "--stream-logs with --sorted-logs: says so" grep -q "contradict each other" "$TMP/e5.err"
check "--stream-logs with --sorted-logs: no log created" test ! -e "$TMP/e5.log"
"$BIN" capture -i lo --no-dpi --dpi-first-name --no-control >/dev/null 2>"$TMP/e7.err"
check "--no-dpi with --dpi-first-name: exit 2" test $? = 2
check "--no-dpi with --dpi-first-name: says so" \
    grep -q -- "--no-dpi and --dpi-first-name contradict each other" "$TMP/e7.err"

# ---- the lab: A (clients, capture) --veth-- B (servers) ------------------------

for ns in "$NS_A" "$NS_B"; do
    ip netns add "$ns" || { fail "cannot create $ns"; exit 1; }
    ip -n "$ns" link set lo up
    lab_sysctls "$ns"
done
ip -n "$NS_A" link add "$IF_A" type veth peer name "$IF_B" netns "$NS_B" || { fail "veth"; exit 1; }
lab_dev_prepare "$NS_A" "$IF_A"
lab_dev_prepare "$NS_B" "$IF_B"
ip -n "$NS_A" addr add "$V4_A/24" dev "$IF_A"
ip -n "$NS_A" -6 addr add "$V6_A/64" dev "$IF_A" nodad
ip -n "$NS_B" addr add "$V4_B/24" dev "$IF_B"
ip -n "$NS_B" -6 addr add "$V6_B/64" dev "$IF_B" nodad
ip -n "$NS_A" link set "$IF_A" up
ip -n "$NS_B" link set "$IF_B" up
# B blackholes one TCP and one UDP port: attempts there go unanswered.
ip netns exec "$NS_B" nft -f - <<EOF || { fail "nft"; exit 1; }
table inet ttcap {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport $PORT_TCP_BLACKHOLE drop
        udp dport $PORT_UDP_BLACKHOLE drop
    }
}
EOF
lab_servers_start || { fail "servers did not start"; exit 1; }
lab_wait_ready || fail "A cannot reach B"

# ---- capture while the clients run ------------------------------------------------

ip netns exec "$NS_A" "$BIN" capture -i "$IF_A" --duration 6 --syn-deadline 2 --udp-deadline 2 \
    --sorted-logs --conn-log "$TMP/cap.conn.log" --json "$TMP/cap.json" --control "$CTL" \
    >"$TMP/cap.out" 2>"$TMP/cap.err" </dev/null &
CAP_PID=$!
# A second capture of the same traffic writes its logs as connections finish
# (the default, named), and stops nDPI at each flow's first name.
ip netns exec "$NS_A" "$BIN" capture -i "$IF_A" --duration 6 --syn-deadline 2 --udp-deadline 2 \
    --stream-logs --conn-log "$TMP/stream.conn.log" --json "$TMP/stream.json" \
    --dpi-first-name --control "$CTL2" >"$TMP/stream.out" 2>"$TMP/stream.err" </dev/null &
STREAM_PID=$!
lab_wait_line "$TMP/cap.err" 'capture: listening on' "$CAP_PID" || { fail "the capture did not start"; dump cap.err "$TMP/cap.err"; exit 1; }
lab_wait_line "$TMP/stream.err" 'capture: listening on' "$STREAM_PID" || { fail "the streaming capture did not start"; dump stream.err "$TMP/stream.err"; exit 1; }
T_START=$(date +%s)

# Blackholed attempts first: their deadlines (2 s) pass well before the end.
ip netns exec "$NS_A" curl -s -o /dev/null --connect-timeout 1 "http://$V4_B:$PORT_TCP_BLACKHOLE/" &
bh_tcp=$!
ip netns exec "$NS_A" dig -b "$V4_A#30001" "@$V4_B" -p "$PORT_UDP_BLACKHOLE" svc.lab A +tries=1 +time=1 >/dev/null &
bh_udp=$!
LAB_NOISY=1 LAB_FAMILY=4 lab_workload 2 v4
"$BIN" mark "filter 2.1" --control "$CTL" >"$TMP/mark.out" 2>"$TMP/mark.err"
check "mark: exit 0 against the running capture" test $? = 0
LAB_NOISY=1 LAB_FAMILY=6 lab_workload 1 v6
lab_workload_wait
wait "$bh_tcp" "$bh_udp"
"$BIN" status --control "$CTL" >"$TMP/status.json" 2>"$TMP/status.err"
check "status: exit 0" test $? = 0
"$BIN" status --control "$CTL2" >"$TMP/status2.json" 2>"$TMP/status2.err"
# The same traffic: with --dpi-first-name nDPI read fewer packets (not the
# HTTP responses, not the DNS answers) and named as many flows.
check "status: nDPI read fewer packets with --dpi-first-name" python3 - "$TMP/status.json" \
    "$TMP/status2.json" <<'EOF'
import json, sys
full, first = (json.load(open(p))['dpi'] for p in sys.argv[1:3])
assert full['classified'] > 5 and first['classified'] >= full['classified'], (full, first)
assert 0 < first['packets'] < full['packets'], (full, first)
EOF
check "status: JSON naming the interface, kernel drops and the marker" python3 - "$TMP/status.json" "$IF_A" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
assert j['tunneltap'] == 'capture', j
assert j['capture']['interface'] == sys.argv[2] and j['capture']['linktype'] == 'EN10MB', j['capture']
assert j['capture']['kernel_drops'] == 0 and j['capture']['packets'] > 50, j['capture']
assert j['markers']['recent'][-1]['label'] == 'filter 2.1', j['markers']
assert j['packets']['analysed'] > 50, j['packets']
EOF

wait "$CAP_PID"
rc=$?
CAP_PID=''
wait "$STREAM_PID"
src=$?
STREAM_PID=''
check "capture --stream-logs: exit 0 (got $src)" test "$src" = 0
[ "$src" = 0 ] || dump stream.err "$TMP/stream.err"
elapsed=$(($(date +%s) - T_START))
check "capture: --duration 6 ends it with exit 0 (got $rc)" test "$rc" = 0
check "capture: it ran about 6 s (took ${elapsed} s)" test "$elapsed" -ge 5 -a "$elapsed" -le 8
[ "$rc" = 0 ] || dump cap.err "$TMP/cap.err"
check "capture: summary printed" grep -q '^verdict: ' "$TMP/cap.out"
check "capture: no kernel drops reported" grep -q "0 dropped by the kernel" "$TMP/cap.out"
check "capture: the control socket is removed" test ! -e "$CTL"

echo "workload:" >&2
for k in dns dns_closed udp_echo http http_closed ping; do
    echo "  $k: $(awk -v k=$k '$4 == k {n[$6]++} END {for (o in n) printf "%s %d ", o, n[o]}' "$LAB_ACTIONS_LOG")" >&2
done
# check_flows CONN_LOG: every service port carries the verdict its clients saw
check_flows() {
    python3 - "$1" "$V4_A" "$V4_B" "$PORT_TCP_BLACKHOLE" "$PORT_UDP_BLACKHOLE" <<'EOF'
import collections, sys
path, a, b, tcp_bh, udp_bh = sys.argv[1:]
fields, rows = None, []
for line in open(path):
    line = line.rstrip('\n')
    if line.startswith('#fields'):
        fields = line.split('\t')[1:]
    elif line and not line.startswith('#'):
        rows.append(dict(zip(fields, line.split('\t'))))
seen = collections.defaultdict(collections.Counter)
for r in rows:
    seen[(r['proto'], r['id.resp_p'])][(r['tt_verdict'], r['tt_certainty'])] += 1
for k in sorted(seen):
    print(f'{k[0]}/{k[1]}: ' + ', '.join(f'{v}{"/" + c if c != "-" else ""} {n}' for (v, c), n in sorted(seen[k].items())))
want = {  # (proto, port): the only verdict allowed there
    ('udp', '53'): 'answered', ('udp', '7777'): 'answered', ('tcp', '80'): 'closed',
    ('tcp', '81'): 'syn_rejected', ('udp', '5300'): 'icmp_unreachable',
    ('tcp', tcp_bh): 'syn_unanswered', ('udp', udp_bh): 'unanswered',
}
bad = 0
for k, v in want.items():
    got = seen.get(k)
    if not got or set(x[0] for x in got) != {v}:
        print(f'WRONG {k[0]}/{k[1]}: want only {v}, got {dict(got or {})}')
        bad += 1
for k in (('tcp', tcp_bh), ('udp', udp_bh)):
    if any(c != 'certain' for (_, c) in seen.get(k, {})):
        print(f'WRONG {k[0]}/{k[1]}: the failure should be certain (nothing was lost)')
        bad += 1
if not any(p == 'icmp' and v == 'answered' for (p, _), c in seen.items() for (v, _) in c):
    print('WRONG: no answered ping')
    bad += 1
sys.exit(1 if bad else 0)
EOF
}
echo "flows (tt_verdict per service port):" >&2
check_flows "$TMP/cap.conn.log" >"$TMP/flows.txt" 2>&1
check "flows: every service port has the verdict its clients saw" test $? = 0
sed 's/^/  /' "$TMP/flows.txt" >&2
check "JSON log: one object per conn.log line" \
    test "$(wc -l <"$TMP/cap.json")" = "$(grep -vc '^#' "$TMP/cap.conn.log")"
check "--sorted-logs: records in ts order" \
    sh -c "grep -v '^#' '$TMP/cap.conn.log' | cut -f1 | LC_ALL=C sort -c -n"

# The streamed logs: the same checks, and a conn.log Zeek's tools read (the
# header the sorted one has, every line 23 columns, the #close line).
check_flows "$TMP/stream.conn.log" >"$TMP/stream.flows.txt" 2>&1
st=$?
check "--stream-logs: every service port has the verdict its clients saw" test $st = 0
[ $st = 0 ] || sed 's/^/  /' "$TMP/stream.flows.txt" >&2
check "--stream-logs: JSON log has one object per conn.log line" \
    test "$(wc -l <"$TMP/stream.json")" = "$(grep -vc '^#' "$TMP/stream.conn.log")"
check "--stream-logs: the header is the sorted log's" \
    diff <(grep '^#' "$TMP/cap.conn.log" | grep -v '^#open\|^#close') \
    <(grep '^#' "$TMP/stream.conn.log" | grep -v '^#open\|^#close')
check "--stream-logs: 23 columns on every line, #close at the end" \
    awk -F'\t' '!/^#/ && NF != 23 {bad = 1} END {exit bad}' "$TMP/stream.conn.log"
check "--stream-logs: ends with #close" sh -c "tail -1 '$TMP/stream.conn.log' | grep -q '^#close'"
# The lab's services get the same names with --dpi-first-name (it costs a
# name only where nDPI's later packets refine it: no such protocol here).
check "--dpi-first-name: the services named as by the full classification" \
    diff <(grep -v '^#' "$TMP/cap.conn.log" | cut -f6,7,8 | sort -u) \
    <(grep -v '^#' "$TMP/stream.conn.log" | cut -f6,7,8 | sort -u)

# ---- a running capture's logs reach the files once a second -------------------
# (no log option: the default). Two blackholed attempts half a second apart,
# each ended by its 1-s deadline, then nothing: both records must be in both
# files while the capture still runs (the last records before a quiet spell
# are not left in a buffer).
ip netns exec "$NS_A" "$BIN" capture -i "$IF_A" --syn-deadline 1 \
    --conn-log "$TMP/quiet.conn.log" --json "$TMP/quiet.json" --no-control \
    >"$TMP/quiet.out" 2>"$TMP/quiet.err" </dev/null &
QUIET_PID=$!
if lab_wait_line "$TMP/quiet.err" 'capture: listening on' "$QUIET_PID"; then
    for port in 40101 40102; do
        ip netns exec "$NS_A" curl -s -o /dev/null --connect-timeout 0.5 --local-port $port \
            "http://$V4_B:$PORT_TCP_BLACKHOLE/"
    done
    quiet_both() {
        [ "$(awk -F'\t' '$4 == 40101 || $4 == 40102 {n++} END {print n + 0}' "$TMP/quiet.conn.log")" = 2 ] &&
            [ "$(grep -c '"id.orig_p":4010[12],' "$TMP/quiet.json")" = 2 ]
    }
    for _ in $(seq 60); do
        quiet_both && break
        sleep 0.1
    done
    check "logs: a running capture's last records reach both files within seconds" quiet_both
    check "logs: ... while the capture still runs" kill -0 "$QUIET_PID"
    kill -INT "$QUIET_PID"
    wait "$QUIET_PID"
    rc=$?
    QUIET_PID=''
    check "capture: SIGINT ends it with exit 0 (got $rc)" test "$rc" = 0
    check "logs: both attempts failed as syn_unanswered" \
        test "$(awk -F'\t' '$4 ~ /^4010[12]$/ && $22 == "syn_unanswered"' "$TMP/quiet.conn.log" | wc -l)" = 2
else
    fail "the third capture did not start"
    dump quiet.err "$TMP/quiet.err"
fi

echo "capture test: $checks checks, $fails failed" >&2
[ "$fails" = 0 ]
