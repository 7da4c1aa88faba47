#!/usr/bin/env bash
# test_bridge.sh - `tunneltap bridge` end to end: two namespaces joined only by
# the bridge's two TUN devices, real servers and clients, captures on both
# sides compared byte for byte, the bridge's conn log compared with an offline
# replay, a stalled analyzer that must not stall forwarding, write errors,
# mark/status over the control socket, and no device left behind.
#
# Needs root, /dev/net/tun and the lab tools (iproute2, tcpdump, nginx-light,
# dnsmasq, socat, curl, dig, ping, python3); skips (77) without them.
# Everything happens in namespaces ttbr-a-$$ / ttbr-b-$$ created here (no
# default route: nothing can leave them); processes are stopped by PID.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib-check.sh
. "$HERE/lib-check.sh"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, TUN devices)"
[ -c /dev/net/tun ] || skip "/dev/net/tun is missing (no tun module)"
for t in ip tcpdump nginx dnsmasq socat curl dig ping python3 ss; do
    command -v "$t" >/dev/null 2>&1 || skip "$t is not installed (scripts/deps.sh --test)"
done
BIN=${TT_BIN:?TT_BIN must name the tunneltap binary}
case $("$BIN" bridge --help 2>&1) in *"not available"*)
    skip "this tunneltap build has no 'bridge' command yet (cli/main.c does not wire it)" ;;
esac
# shellcheck source-path=SCRIPTDIR source=../captures/lib-lab.sh
. "$HERE/../captures/lib-lab.sh"

ID=$$
NS_A=ttbr-a-$ID NS_B=ttbr-b-$ID
DEV_A=ttbrA$ID DEV_B=ttbrB$ID
V4_A=10.88.0.1 V4_B=10.88.0.2 V6_A=fd88::1 V6_B=fd88::2
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tt-bridge.XXXXXX")
CTL=$TMP/ctl.sock
BRIDGE_PID='' TCPDUMP_PIDS=()

# The lab library's servers and workload, pointed at our two namespaces:
# B plays the lab's server, A its client.
LAB_ID=br$ID
lab_init || exit 1
LAB_NS_CLI=$NS_A LAB_NS_SRV=$NS_B LAB_NS_RTR=$NS_B
LAB_V4_CLI=$V4_A LAB_V6_CLI=$V6_A LAB_V4_SRV=$V4_B LAB_V6_SRV=$V6_B

cleanup() {
    local p
    for p in "${LAB_ACTION_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    lab_workload_wait
    for p in "${TCPDUMP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    lab_servers_stop
    stop_pid "$BRIDGE_PID"
    lab_ns_destroy "$NS_A"
    lab_ns_destroy "$NS_B"
    [ "${KEEP:-0}" = 1 ] && echo "kept $TMP and $LAB_STATE" >&2 && return
    rm -rf "$TMP" "$LAB_STATE"
}
trap cleanup EXIT

dump() { sed "s/^/    $1: /" "$2" | tail -"${3:-30}" >&2; }

# ---- building blocks ---------------------------------------------------------

make_namespaces() {
    local ns
    for ns in "$NS_A" "$NS_B"; do
        ip netns add "$ns" || return 1
        ip -n "$ns" link set lo up
        lab_sysctls "$ns" # no DAD, no router solicitations (devices inherit these)
    done
}

# bridge_start NAME ARGS... : runs the bridge in the root namespace and waits
# for "ready" (its devices exist from then on).
bridge_start() {
    local name=$1
    shift
    "$BIN" bridge --tun "$DEV_A" --tun "$DEV_B" --control "$CTL" "$@" \
        >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
    BRIDGE_PID=$!
    lab_wait_line "$TMP/$name.err" 'bridge: ready' "$BRIDGE_PID" && return 0
    dump "$name.err" "$TMP/$name.err"
    return 1
}

# bridge_stop SIGNAL : stops the bridge, returns its exit status.
bridge_stop() {
    local rc
    kill -"$1" "$BRIDGE_PID"
    wait "$BRIDGE_PID"
    rc=$?
    BRIDGE_PID=
    return $rc
}

# Moves each device into its namespace, addresses it, brings it up.
link_up() {
    ip link set "$DEV_A" netns "$NS_A" || return 1
    ip link set "$DEV_B" netns "$NS_B" || return 1
    lab_dev_prepare "$NS_A" "$DEV_A"
    lab_dev_prepare "$NS_B" "$DEV_B"
    ip -n "$NS_A" addr add "$V4_A/24" dev "$DEV_A" &&
        ip -n "$NS_A" -6 addr add "$V6_A/64" dev "$DEV_A" nodad &&
        ip -n "$NS_B" addr add "$V4_B/24" dev "$DEV_B" &&
        ip -n "$NS_B" -6 addr add "$V6_B/64" dev "$DEV_B" nodad &&
        ip -n "$NS_A" link set "$DEV_A" up &&
        ip -n "$NS_B" link set "$DEV_B" up
}

# tcpdump_start NS DEV FILE : full frames, unbuffered, inside the namespace.
# -s 2048 (not 0): the MTU is 1500, and with -s 0 libpcap may size each slot
# of the kernel ring for 256 KiB packets, leaving room for a handful - a
# burst then costs the capture (not the bridge) packets. The comparison
# checks that no frame was cut.
tcpdump_start() {
    local ns=$1 dev=$2 file=$3
    : >"$file.err"
    ip netns exec "$ns" tcpdump -U --immediate-mode -Z root -s 2048 -B 8192 -n -i "$dev" -w "$file" \
        2>"$file.err" </dev/null &
    TCPDUMP_PIDS+=($!)
    lab_wait_line "$file.err" 'listening on' && return 0
    dump tcpdump "$file.err"
    return 1
}

tcpdump_stop_all() {
    local p
    for p in "${TCPDUMP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    TCPDUMP_PIDS=()
}

# status_json FILE : `tunneltap status` into FILE; fails unless it is JSON.
status_json() {
    "$BIN" status --control "$CTL" >"$1" 2>"$1.err" &&
        python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1"
}

# json_get FILE EXPR : evaluates a Python expression over the object `j`.
json_get() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# outcomes KIND : "outcome count" lines for one kind of workload action.
outcomes() { awk -v k="$1" '$4 == k {n[$6]++} END {for (o in n) print o, n[o]}' "$LAB_ACTIONS_LOG" | sort; }

# Compares the two captures frame by frame, per direction (by source address).
cat >"$TMP/compare_pcaps.py" <<'EOF'
import collections, ipaddress, struct, sys

def read_pcap(path):
    data = open(path, 'rb').read()
    magic = data[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        e = '<'
    elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        e = '>'
    else:
        sys.exit(f'{path}: not a pcap file')
    link = struct.unpack(e + 'I', data[20:24])[0] & 0x0fffffff
    if link not in (101, 12, 14):
        sys.exit(f'{path}: link type {link}, expected RAW')
    off, out = 24, []
    while off + 16 <= len(data):
        _, _, incl, orig = struct.unpack(e + 'IIII', data[off:off + 16])
        off += 16
        frame = data[off:off + incl]
        off += incl
        if incl != orig:
            sys.exit(f'{path}: frame {len(out) + 1} cut ({incl} of {orig} bytes)')
        out.append(frame)
    return out

def src(frame):
    v = frame[0] >> 4
    if v == 4:
        return ipaddress.ip_address(frame[12:16])
    if v == 6:
        return ipaddress.ip_address(frame[8:24])
    return None

cap_a, cap_b = read_pcap(sys.argv[1]), read_pcap(sys.argv[2])
addr_a = {ipaddress.ip_address(x) for x in sys.argv[3].split(',') if x}
addr_b = {ipaddress.ip_address(x) for x in sys.argv[4].split(',') if x}
bad = 0
for name, cap in (('A', cap_a), ('B', cap_b)):
    for i, f in enumerate(cap):
        s = src(f)
        if s not in addr_a and s not in addr_b:
            print(f'capture {name} frame {i + 1}: source {s} belongs to neither side')
            bad += 1
for label, sender, other in (('A->B', addr_a, 'B'), ('B->A', addr_b, 'A')):
    sa = [f for f in cap_a if src(f) in sender]
    sb = [f for f in cap_b if src(f) in sender]
    sent, got = (sa, sb) if label == 'A->B' else (sb, sa)
    ca, cb = collections.Counter(sent), collections.Counter(got)
    missing, extra = sum((ca - cb).values()), sum((cb - ca).values())
    nbytes = sum(len(f) for f in sent)
    line = f'{label}: {len(sent)} frames ({nbytes} bytes) sent, {len(got)} arrived'
    if sent == got and sent:
        print(line + ': every one byte-identical, in the same order')
        continue
    bad += 1
    if missing or extra:
        print(line + f': {missing} missing, {extra} not sent by that side')
    else:
        moved = sum(1 for x, y in zip(sent, got) if x != y)
        print(line + f': the same frames, but {moved} in another order')
    first = next((i for i, (x, y) in enumerate(zip(sent, got)) if x != y), None)
    if first is not None:
        print(f'  first difference at frame {first + 1}:\n    sent:    {sent[first].hex()[:120]}'
              f'\n    arrived: {got[first].hex()[:120]}')
sys.exit(1 if bad else 0)
EOF

# Compares two conn logs: tt_verdict per 5-tuple (multiset), per-protocol
# verdict counts. Flows of the bridge that began before the captures did
# (ts < START) cannot be in the replay and are listed apart.
cat >"$TMP/compare_connlogs.py" <<'EOF'
import collections, sys

def read(path):
    fields, rows = None, []
    for line in open(path):
        line = line.rstrip('\n')
        if line.startswith('#fields'):
            fields = line.split('\t')[1:]
        elif line and not line.startswith('#'):
            rows.append(dict(zip(fields, line.split('\t'))))
    return rows

start = float(sys.argv[3])
live, offline = read(sys.argv[1]), read(sys.argv[2])
early = [r for r in live if float(r['ts']) < start]
live = [r for r in live if float(r['ts']) >= start]
key = lambda r: (r['proto'], r['id.orig_h'], r['id.orig_p'], r['id.resp_h'], r['id.resp_p'],
                 r['tt_verdict'])
a, b = collections.Counter(map(key, live)), collections.Counter(map(key, offline))
for name, rows in (('bridge', live), ('replay', offline)):
    per = collections.defaultdict(collections.Counter)
    for r in rows:
        per[r['proto']][r['tt_verdict']] += 1
    print(f'{name}: {len(rows)} flows: ' + '; '.join(
        f'{p} ' + ', '.join(f'{v} {n}' for v, n in sorted(c.items())) for p, c in sorted(per.items())))
for r in early:
    print(f'  (bridge flow before the captures: {r["proto"]} {r["id.orig_h"]} -> {r["id.resp_h"]} '
          f'{r["tt_verdict"]})')
diff = (a - b) + (b - a)
for k in sorted(a - b):
    print('  only in the bridge log:', ' '.join(k))
for k in sorted(b - a):
    print('  only in the replay:    ', ' '.join(k))
sys.exit(1 if diff or not live else 0)
EOF

# ---- setup -------------------------------------------------------------------

echo "bridge test: namespaces $NS_A, $NS_B; devices $DEV_A, $DEV_B; scratch $TMP" >&2
make_namespaces || { fail "cannot create the namespaces"; exit 1; }

# ---- run 1: forwarding, byte-identical copies, analyzer vs replay -------------

# The logs streamed (--stream-logs: written as connections finish; every
# check below is order-blind); test_capture_live.sh runs both kinds.
bridge_start run1 --stream-logs --conn-log "$TMP/bridge.conn.log" --json "$TMP/bridge.json" ||
    { fail "run 1: the bridge did not become ready"; exit 1; }
check "run 1: the bridge names its devices" grep -q "created TUN devices $DEV_A .* and $DEV_B" "$TMP/run1.err"
check "run 1: both devices exist in the root namespace before being moved" \
    ip link show "$DEV_B" >/dev/null
link_up || { fail "run 1: cannot set up the devices"; exit 1; }
lab_servers_start || { fail "run 1: servers did not start"; dump lab "$LAB_STATE/nginx.out"; exit 1; }
if ! { tcpdump_start "$NS_A" "$DEV_A" "$TMP/a.pcap" && tcpdump_start "$NS_B" "$DEV_B" "$TMP/b.pcap"; }; then
    fail "run 1: tcpdump did not start"
    exit 1
fi
CAPTURE_START=$(date +%s.%6N)
lab_wait_ready || fail "run 1: A cannot reach B through the bridge"

LAB_ACTIONS_LOG=$TMP/actions1.log LAB_NOISY=1 LAB_FAMILY=4 lab_workload 3 v4
"$BIN" mark "phase v6 \$(begins)" --control "$CTL" >"$TMP/mark.out" 2>"$TMP/mark.err"
check "mark: exit 0 against the running bridge" test $? = 0
check "mark: reports the marker" grep -q "^marked 'phase v6 \$(begins)' at " "$TMP/mark.out"
LAB_ACTIONS_LOG=$TMP/actions1.log LAB_NOISY=1 LAB_FAMILY=6 lab_workload 3 v6
lab_workload_wait
LAB_ACTIONS_LOG=$TMP/actions1.log
sleep 0.5 # the last replies cross the bridge

if status_json "$TMP/status1.json"; then
    ok
    # shellcheck disable=SC2016 # the label is literally "$(begins)"
    check "status: the marker is listed" \
        test "$(json_get "$TMP/status1.json" 'j["markers"]["recent"][-1]["label"]')" = 'phase v6 $(begins)'
    check "status: packets were copied and analysed" \
        test "$(json_get "$TMP/status1.json" 'int(j["packets"]["analysed"] > 100)')" = 1
    check "status: names both devices" \
        test "$(json_get "$TMP/status1.json" '",".join(d["name"] for d in j["bridge"]["devices"])')" = "$DEV_A,$DEV_B"
    check "status: no copy dropped" test "$(json_get "$TMP/status1.json" 'j["drops"]["total"]')" = 0
else
    fail "status: no JSON from the running bridge"
    dump status "$TMP/status1.json.err"
fi

tcpdump_stop_all
bridge_stop INT
rc=$?
check "run 1: SIGINT stops the bridge with exit 0 (got $rc)" test "$rc" = 0
[ "$rc" = 0 ] || dump run1.err "$TMP/run1.err"

echo "workload (run 1):" >&2
for k in dns dns_closed udp_echo http http_closed ping; do
    echo "  $k: $(outcomes $k | tr '\n' ' ')" >&2
done
check "run 1: every DNS query answered" test "$(outcomes dns | awk '$1 != "answered"' | wc -l)" = 0
check "run 1: every UDP echo echoed" test "$(outcomes udp_echo | awk '$1 != "echoed"' | wc -l)" = 0
check "run 1: every HTTP fetch ok" test "$(outcomes http | awk '$1 != "ok"' | wc -l)" = 0
check "run 1: every ping replied" test "$(outcomes ping | awk '$1 != "replied"' | wc -l)" = 0
check "run 1: closed HTTP port refused" test "$(outcomes http_closed | awk '$1 != "refused"' | wc -l)" = 0

addr_a=$(ip -n "$NS_A" -o addr show dev "$DEV_A" 2>/dev/null | awk '{split($4, a, "/"); printf "%s,", a[1]}')
addr_b=$(ip -n "$NS_B" -o addr show dev "$DEV_B" 2>/dev/null | awk '{split($4, a, "/"); printf "%s,", a[1]}')
# The devices are gone by now (the bridge exited): fall back to the assigned ones.
[ -n "$addr_a" ] || addr_a=$V4_A,$V6_A,
[ -n "$addr_b" ] || addr_b=$V4_B,$V6_B,
echo "captures compared (A = $DEV_A in $NS_A, B = $DEV_B in $NS_B):" >&2
if python3 "$TMP/compare_pcaps.py" "$TMP/a.pcap" "$TMP/b.pcap" "$addr_a" "$addr_b" >"$TMP/cmp.txt" 2>&1; then
    ok
else
    fail "captures: packets differ between the two sides of the bridge"
fi
sed 's/^/  /' "$TMP/cmp.txt" >&2
for f in "$TMP/a.pcap.err" "$TMP/b.pcap.err"; do
    n=$(awk '/packets dropped by kernel/ {print $1}' "$f")
    check "tcpdump $(basename "$f" .err) dropped no packet itself (got ${n:-?})" test "${n:-x}" = 0
done
read_ab=$(grep -o "$DEV_A -> $DEV_B (outbound): [0-9]* packets" "$TMP/run1.out" | awk '{print $5}')
frames_ab=$(awk '/^A->B/ {print $2}' "$TMP/cmp.txt")
check "run 1: the bridge read as many packets from A ($read_ab) as the A capture sent ($frames_ab)" \
    test "${read_ab:-x}" = "${frames_ab:-y}"

check "run 1: summary printed" grep -q '^verdict: ' "$TMP/run1.out"
check "run 1: no copy dropped" grep -q '^copies: .* 0 dropped (ring full)' "$TMP/run1.out"
"$BIN" replay "$TMP/a.pcap" --conn-log "$TMP/replay.conn.log" --quiet 2>"$TMP/replay.err"
check "replay of the A-side capture succeeds" test $? = 0
echo "conn logs compared (tt_verdict per 5-tuple):" >&2
if python3 "$TMP/compare_connlogs.py" "$TMP/bridge.conn.log" "$TMP/replay.conn.log" "$CAPTURE_START" \
    >"$TMP/cmpconn.txt" 2>&1; then
    ok
else
    fail "the bridge's conn log and the replay of the A-side capture disagree"
fi
sed 's/^/  /' "$TMP/cmpconn.txt" >&2
for v in answered icmp_unreachable syn_rejected; do
    check "run 1: the bridge log has $v flows" grep -q "	$v	" "$TMP/bridge.conn.log"
done
check "run 1: JSON log has one line per conn.log line" \
    test "$(wc -l <"$TMP/bridge.json")" = "$(grep -vc '^#' "$TMP/bridge.conn.log")"

check "after run 1: no $DEV_A/$DEV_B left in the root namespace" \
    test "$(ip -o link show | grep -cE "$DEV_A|$DEV_B")" = 0
check "after run 1: the control socket is removed" test ! -e "$CTL"
"$BIN" status --control "$CTL" >/dev/null 2>"$TMP/nostatus.err"
rc=$?
check "status with no bridge running: exit 2 (got $rc)" test "$rc" = 2
check "status with no bridge running: says so" grep -q "no running tunneltap at $CTL" "$TMP/nostatus.err"

# ---- run 2: a stalled analyzer never stalls forwarding; write errors ----------

lab_servers_stop # they were bound to addresses that left with the devices
bridge_start run2 --stall-analyzer --ring-bytes 4096 ||
    { fail "run 2: the bridge did not become ready"; exit 1; }
link_up || { fail "run 2: cannot set up the devices"; exit 1; }
lab_servers_start || { fail "run 2: servers did not start"; exit 1; }
lab_wait_ready || fail "run 2: A cannot reach B through the stalled bridge"
LAB_ACTIONS_LOG=$TMP/actions2.log LAB_FAMILY=4 lab_workload 2 stall
lab_workload_wait
LAB_ACTIONS_LOG=$TMP/actions2.log
# 300 kB through a 4 KiB copy ring: the copies must overflow, the original not.
head -c 300000 /dev/urandom >"$LAB_STATE/www/big.bin" && chmod 644 "$LAB_STATE/www/big.bin"
check "run 2: curl through the stalled bridge succeeds" \
    ip netns exec "$NS_A" curl -sf -o "$TMP/big.out" --max-time 10 "http://[$V6_B]/big.bin"
check "run 2: the 300 kB arrived intact" cmp -s "$TMP/big.out" "$LAB_STATE/www/big.bin"
check "run 2: dig through the stalled bridge succeeds" \
    ip netns exec "$NS_A" dig +short +tries=1 +time=2 "@$V4_B" svc.lab A >/dev/null
check "run 2: every workload DNS query answered" test "$(outcomes dns | awk '$1 != "answered"' | wc -l)" = 0
check "run 2: every workload HTTP fetch ok" test "$(outcomes http | awk '$1 != "ok"' | wc -l)" = 0
if status_json "$TMP/status2.json"; then
    ok
    check "status (stalled): nothing analysed" test "$(json_get "$TMP/status2.json" 'j["packets"]["analysed"]')" = 0
    check "status (stalled): copies dropped" \
        test "$(json_get "$TMP/status2.json" 'int(j["drops"]["ring_full"] > 0)')" = 1
    check "status (stalled): says so" test "$(json_get "$TMP/status2.json" 'j["bridge"]["stall_analyzer"]')" = True
    echo "  stalled: $(json_get "$TMP/status2.json" '"%d submitted, %d analysed, %d dropped" % (j["packets"]["submitted"], j["packets"]["analysed"], j["drops"]["total"])')" >&2
else
    fail "status (stalled): no JSON"
fi

# Writes to a device that is down fail with EIO: counted, not fatal.
ip -n "$NS_B" link set "$DEV_B" down
ip netns exec "$NS_A" ping -c 3 -i 0.2 -W 1 -q "$V4_B" >/dev/null 2>&1
check "write errors: the bridge survives writes to a down device" kill -0 "$BRIDGE_PID"
if status_json "$TMP/status3.json"; then
    eio=$(json_get "$TMP/status3.json" 'j["bridge"]["devices"][1]["write_errors"].get("EIO", 0)')
    check "write errors: EIO counted for $DEV_B (got $eio)" test "$eio" -ge 3
    check "write errors: in the total" test "$(json_get "$TMP/status3.json" 'j["write_errors"]')" -ge 3
else
    fail "status (write errors): no JSON"
fi
check "write errors: reported once on stderr" \
    test "$(grep -c "writes to $DEV_B fail with EIO" "$TMP/run2.err")" = 1
ip -n "$NS_B" link set "$DEV_B" up
ip -n "$NS_B" -6 addr replace "$V6_B/64" dev "$DEV_B" nodad 2>/dev/null
check "write errors: forwarding resumes once the device is up" \
    ip netns exec "$NS_A" ping -c 1 -W 2 -q "$V4_B" >/dev/null

bridge_stop TERM
rc=$?
check "run 2: SIGTERM stops the bridge with exit 0 (got $rc)" test "$rc" = 0
check "run 2: summary shows the stalled copies" \
    grep -qE '^copies while forwarding \(--stall-analyzer: none analysed\): [0-9]+ submitted, 0 analysed, [1-9][0-9]* dropped' "$TMP/run2.out"
check "run 2: summary shows the write errors" grep -qE "write.* refused by $DEV_B: EIO [0-9]+" "$TMP/run2.out"
grep -E '^(bridge|copies)' "$TMP/run2.out" | sed 's/^/  run 2: /' >&2

# ---- no device left anywhere -------------------------------------------------

left=0
for ns in "" "$NS_A" "$NS_B"; do
    if [ -z "$ns" ]; then l=$(ip -o link show | grep -cE "$DEV_A|$DEV_B")
    else l=$(ip -n "$ns" -o link show | grep -c 'ttbr'); fi
    left=$((left + l))
done
check "after run 2: no ttbr device in the root namespace or in $NS_A / $NS_B" test "$left" = 0

# ---- usage errors --------------------------------------------------------------

"$BIN" bridge --tun only1 >/dev/null 2>"$TMP/u1.err"
check "usage: one --tun is an error (exit 2)" test $? = 2
check "usage: says two are needed" grep -q "two TUN devices needed" "$TMP/u1.err"
"$BIN" bridge --tun x --tun x >/dev/null 2>"$TMP/u2.err"
check "usage: the same name twice is an error" grep -q "are the same" "$TMP/u2.err"
"$BIN" bridge --tun lo --tun ttbrZ$ID --no-control >/dev/null 2>"$TMP/u3.err"
check "an existing device name is refused" grep -q "a network device named 'lo' already exists" "$TMP/u3.err"

echo "bridge test: $checks checks, $fails failed" >&2
[ "$fails" = 0 ]
