#!/usr/bin/env bash
# test_live_upgrade.sh - a filter upgrade under a running `tunneltap bridge`.
#
# The lab of captures/lib-lab.sh (client - router - server, real dnsmasq,
# nginx and socat servers, the paced workload), with the client<->router veth
# replaced by the bridge's two TUN devices. A healthy phase, then at a known
# instant `tunneltap mark "filter 2.1"` immediately followed by a filter
# upgrade on the router, then more workload, then SIGINT. Checked:
#   (a) the bridge's --alerts hold exactly the expected kinds, dated at the
#       marker it recorded (within 0.01 s), raised after it, written while it
#       ran; `status` lists the marker and the alerts; the summary has the
#       before/after table and the ALERT lines; --fail-on-regression exits 3;
#   (b) an offline replay of a tcpdump taken on the client's TUN device, with
#       the same marker, gives the same alert kinds;
#   (c) no TUN device is left behind.
# Case 1: udp-synack-drop (UDP and SYN-ACKs dropped: udp_unanswered +
# tcp_syn_unanswered), IPv4. Case 2: reject (udp_unreachable +
# tcp_syn_rejected), IPv6. About 60 s in all.
#
# Needs root, /dev/net/tun and the lab tools; skips (77) without them. Only
# the namespaces ttlab-lu$$-{cli,rtr,srv} made here are touched; processes are
# stopped by PID. KEEP=1 keeps the scratch directory.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib-check.sh
. "$HERE/lib-check.sh"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, TUN devices)"
[ -c /dev/net/tun ] || skip "/dev/net/tun is missing (no tun module)"
for t in ip nft tcpdump nginx dnsmasq socat curl dig ping python3 ss ethtool; do
    command -v "$t" >/dev/null 2>&1 || skip "$t is not installed (scripts/deps.sh --test)"
done
BIN=${TT_BIN:?TT_BIN must name the tunneltap binary}
# shellcheck source-path=SCRIPTDIR source=../captures/lib-lab.sh
. "$HERE/../captures/lib-lab.sh"

ID=$$
LAB_ID=lu$ID
DEV_C=ttluC$ID DEV_R=ttluR$ID # device side (client), tunnel side (router)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tt-liveup.XXXXXX")
CTL=$TMP/ctl.sock
LABEL="filter 2.1"
BRIDGE_PID='' TCPDUMP_PID=''
T0=$(date +%s)

cleanup() {
    local p
    for p in "${LAB_ACTION_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    lab_workload_wait
    if [ -n "$TCPDUMP_PID" ]; then kill -INT "$TCPDUMP_PID" 2>/dev/null && wait "$TCPDUMP_PID" 2>/dev/null; fi
    stop_pid "$BRIDGE_PID"
    lab_down
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# a milestone passed: counted as lib-check.sh's checks are, and named on stdout (this test is long)
pass() {
    ok
    echo "PASS: $*"
}
dump() { sed "s/^/    | /" "$1" | tail -"${2:-20}"; }

# py EXPR FILE... : prints a Python expression over the JSON of FILE (j) or
# the JSON lines of FILE (lines); exits 1 on an unreadable file.
py() {
    python3 - "$@" <<'EOF'
import json, sys
expr, files = sys.argv[1], sys.argv[2:]
def load(f):
    text = open(f).read()
    try:
        return json.loads(text)
    except ValueError:
        return [json.loads(l) for l in text.splitlines() if l.strip()]
docs = [load(f) for f in files]
j = docs[0] if docs else None
print(eval(expr))
EOF
}
# pytrue EXPR FILE... : succeeds when the expression is true.
pytrue() { [ "$(py "$@" 2>/dev/null)" = True ]; }

# ---- building blocks ---------------------------------------------------------

bridge_start() { # DIR
    local d=$1
    "$BIN" bridge --tun "$DEV_C" --tun "$DEV_R" --control "$CTL" \
        --alerts "$d/alerts.jsonl" --conn-log "$d/conn.log" --fail-on-regression \
        >"$d/bridge.out" 2>"$d/bridge.err" </dev/null &
    BRIDGE_PID=$!
    lab_wait_line "$d/bridge.err" 'bridge: ready' "$BRIDGE_PID" && return 0
    dump "$d/bridge.err"
    return 1
}

# The client<->router link: the bridge's devices, moved and addressed by the lab.
link_up() {
    ip link set "$DEV_C" netns "$LAB_NS_CLI" &&
        ip link set "$DEV_R" netns "$LAB_NS_RTR" &&
        lab_link_cr_config "$DEV_C" "$DEV_R"
}

tcpdump_start() { # FILE
    local f=$1
    : >"$f.err"
    ip netns exec "$LAB_NS_CLI" tcpdump -U --immediate-mode -Z root -n -s 2048 -B 8192 \
        -i "$DEV_C" -w "$f" 2>"$f.err" </dev/null &
    TCPDUMP_PID=$!
    lab_wait_line "$f.err" 'listening on' "$TCPDUMP_PID" && return 0
    dump "$f.err"
    return 1
}

tcpdump_stop() {
    [ -n "$TCPDUMP_PID" ] || return 0
    kill -INT "$TCPDUMP_PID" 2>/dev/null
    wait "$TCPDUMP_PID" 2>/dev/null
    TCPDUMP_PID=
}

bridge_stop() { # returns the bridge's exit status
    local rc
    kill -INT "$BRIDGE_PID"
    wait "$BRIDGE_PID"
    rc=$?
    BRIDGE_PID=
    return $rc
}

devices_left() { # how many of our TUN devices exist anywhere we look
    local n=0 ns
    for ns in "" "$LAB_NS_CLI" "$LAB_NS_RTR"; do
        if [ -z "$ns" ]; then
            n=$((n + $(ip -o link show | grep -cE "$DEV_C|$DEV_R")))
        elif ip netns list | awk '{print $1}' | grep -qx -- "$ns"; then
            n=$((n + $(ip -n "$ns" -o link show | grep -cE "$DEV_C|$DEV_R")))
        fi
    done
    echo "$n"
}

# outcomes PHASE KIND : "outcome count" pairs of the workload log.
outcomes() {
    awk -v p="$1" -v k="$2" '$3 == p && $4 == k {n[$6]++} END {for (o in n) printf "%s %d ", o, n[o]}' \
        "$LAB_ACTIONS_LOG"
}
# all_are PHASE KIND OUTCOME : every action of that kind had that outcome.
all_are() {
    awk -v p="$1" -v k="$2" -v o="$3" '$3 == p && $4 == k {n++; if ($6 != o) bad++}
        END {exit !(n > 0 && bad == 0)}' "$LAB_ACTIONS_LOG"
}

# ---- one case ------------------------------------------------------------------

# run_case NAME FILTER FAMILY BEFORE_S AFTER_S "KIND KIND" "CLIENT OUTCOMES"
#   CLIENT OUTCOMES: expected after-phase outcomes for dns udp_echo http.
run_case() {
    local name=$1 filter=$2 fam=$3 before=$4 after=$5 want=$6 expect_out=$7
    local d=$TMP/$name rc mark_local mark want_sorted got kinds t_start
    mkdir -p "$d"
    t_start=$(date +%s.%N)
    echo "== case $name: filter $filter, IPv$fam, ${before} s healthy, ${after} s after, expect: $want"
    LAB_ACTIONS_LOG=$d/actions.log
    export LAB_FAMILY=$fam

    if ! bridge_start "$d"; then
        fail "$name: the bridge became ready"
        return 1
    fi
    pass "$name: the bridge became ready"
    if ! link_up; then
        fail "$name: TUN devices moved into the lab and addressed"
        return 1
    fi
    if ! tcpdump_start "$d/client.pcap"; then
        fail "$name: tcpdump on $DEV_C in the client namespace"
        return 1
    fi
    if ! lab_wait_ready; then
        fail "$name: the client reaches the server through the bridge"
        return 1
    fi

    lab_workload "$before" healthy
    mark_local=$(date +%s.%6N)
    "$BIN" mark "$LABEL" --control "$CTL" >"$d/mark.out" 2>"$d/mark.err"
    rc=$?
    lab_filter_apply "$filter"
    check "$name: 'tunneltap mark' exits 0 (got $rc)" test "$rc" = 0
    lab_workload "$after" after
    lab_workload_wait
    sleep 1 # the last answers and ICMP errors cross the bridge

    # While it runs: status and the alerts file.
    cp "$d/alerts.jsonl" "$d/alerts-running.jsonl"
    if "$BIN" status --control "$CTL" >"$d/status.json" 2>"$d/status.err"; then
        pass "$name: status answers while running"
    else
        fail "$name: status answers while running"
        dump "$d/status.err"
    fi
    mark=$(py '"%.6f" % [m["ts"] for m in j["markers"]["recent"] if m["label"] == "'"$LABEL"'"][-1]' \
        "$d/status.json" 2>/dev/null)
    check "$name: status lists the marker '$LABEL' (at ${mark:-?})" test -n "$mark"
    [ -n "$mark" ] || mark=$mark_local
    check "$name: the marker is the instant of 'tunneltap mark' (bridge $mark, test $mark_local)" \
        pytrue "abs($mark - $mark_local) < 0.5"
    kinds=$(py '" ".join(sorted({a["kind"] for a in j["alerts"]["recent"]}))' "$d/status.json" 2>/dev/null)
    want_sorted=$(tr ' ' '\n' <<<"$want" | sort | tr '\n' ' ' | sed 's/ $//')
    check "$name: status lists the alerts raised so far: '$kinds'" test "$kinds" = "$want_sorted"
    check "$name: status alerts are dated at the marker, with their message" \
        pytrue 'all(abs(a["ts"] - '"$mark"') <= 0.01 and a["marker"] == "'"$LABEL"'" and a["message"]
                for a in j["alerts"]["recent"]) and j["alerts"]["count"] == len(j["alerts"]["recent"])' \
        "$d/status.json"
    got=$(py '" ".join(sorted({a["kind"] for a in j if not a["recovery"]}))' "$d/alerts-running.jsonl" 2>/dev/null)
    check "$name: --alerts written while the bridge runs: '$got'" test "$got" = "$want_sorted"

    tcpdump_stop
    bridge_stop
    rc=$?
    check "$name: SIGINT stops the bridge; --fail-on-regression makes it exit 3 (got $rc)" test "$rc" = 3
    [ "$rc" = 3 ] || dump "$d/bridge.err"
    lab_filter_clear

    # (a) the alerts of the bridge
    got=$(py '" ".join(sorted(a["kind"] for a in j))' "$d/alerts.jsonl" 2>/dev/null)
    check "$name: the bridge raised exactly '$want_sorted' (got '$got')" test "$got" = "$want_sorted"
    check "$name: no recovery (the filter stayed)" \
        pytrue 'not any(a["recovery"] for a in j)' "$d/alerts.jsonl"
    check "$name: every alert names the marker '$LABEL', marker_ts within 0.01 s of $mark" \
        pytrue 'len(j) > 0 and all(a["marker"] == "'"$LABEL"'" and abs(a["marker_ts"] - '"$mark"') <= 0.01
                for a in j)' "$d/alerts.jsonl"
    check "$name: every alert is dated at the marker (ts within 0.01 s)" \
        pytrue 'len(j) > 0 and all(abs(a["ts"] - '"$mark"') <= 0.01 for a in j)' "$d/alerts.jsonl"
    check "$name: every alert was raised after the marker" \
        pytrue 'len(j) > 0 and all(a["raised_at"] > '"$mark"' for a in j)' "$d/alerts.jsonl"
    py '"\n".join("  raised %+.1f s after the marker: %s" % (a["raised_at"] - '"$mark"', a["message"])
                  for a in j)' "$d/alerts.jsonl"
    check "$name: the summary has the before/after table of the marker" \
        grep -q "^marker \"$LABEL\" at " "$d/bridge.out"
    for k in $want; do
        check "$name: the summary has 'ALERT $k: ...'" grep -q "^ALERT $k: " "$d/bridge.out"
        check "$name: stderr said 'ALERT $k' as it was raised" grep -q "bridge: ALERT $k: " "$d/bridge.err"
    done
    check "$name: one summary ALERT line per alert" \
        test "$(grep -cE '^(ALERT|recovery) ' "$d/bridge.out")" = "$(wc -l <"$d/alerts.jsonl")"
    sed -n "/^marker \"$LABEL\"/,\$p" "$d/bridge.out" | sed 's/^/  | /'

    # The lab did what the case says (else the alerts prove nothing).
    echo "  client outcomes: healthy: dns $(outcomes healthy dns)/ echo $(outcomes healthy udp_echo)/ http $(outcomes healthy http)"
    echo "                   after:   dns $(outcomes after dns)/ echo $(outcomes after udp_echo)/ http $(outcomes after http)"
    local k o i=0
    for k in dns udp_echo http; do
        check "$name: healthy phase: every $k succeeded" all_are healthy "$k" \
            "$(case $k in dns) echo answered ;; udp_echo) echo echoed ;; http) echo ok ;; esac)"
        i=$((i + 1))
        o=$(cut -d' ' -f"$i" <<<"$expect_out")
        check "$name: after the upgrade: every $k is '$o'" all_are after "$k" "$o"
    done

    # (b) offline replay of the client-side capture with the same marker
    local drops
    drops=$(awk '/packets dropped by kernel/ {print $1}' "$d/client.pcap.err")
    check "$name: tcpdump dropped no packet (got ${drops:-?})" test "${drops:-x}" = 0
    "$BIN" replay "$d/client.pcap" --mark "$mark=$LABEL" --alerts - --quiet \
        >"$d/replay-alerts.jsonl" 2>"$d/replay.err"
    rc=$?
    check "$name: replay of client.pcap exits 0 (got $rc)" test "$rc" = 0
    got=$(py '" ".join(sorted(a["kind"] for a in j if not a["recovery"]))' "$d/replay-alerts.jsonl" 2>/dev/null)
    check "$name: the offline replay gives the same alert kinds ('$got')" test "$got" = "$want_sorted"
    check "$name: the replay's alerts are dated at the marker too" \
        pytrue 'len(j) > 0 and all(abs(a["ts"] - '"$mark"') <= 0.01 for a in j)' "$d/replay-alerts.jsonl"

    # (c) nothing left behind
    check "$name: no TUN device left ($DEV_C, $DEV_R) in the root or lab namespaces" \
        test "$(devices_left)" = 0
    check "$name: the control socket is removed" test ! -e "$CTL"
    echo "  case $name took $(py "round($(date +%s.%N) - $t_start, 1)") s"
}

# After a case (also one that gave up half-way): nothing of it runs on.
case_end() {
    local p
    for p in "${LAB_ACTION_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    lab_workload_wait
    tcpdump_stop
    if [ -n "$BRIDGE_PID" ]; then bridge_stop; fi
    lab_filter_clear
}

# ---- the lab -------------------------------------------------------------------

echo "live upgrade test: lab ttlab-$LAB_ID-{cli,rtr,srv}, devices $DEV_C/$DEV_R, scratch $TMP"
if ! LAB_CR_LINK=none lab_up; then
    fail "the lab comes up"
    echo "$((checks - fails)) passed, $fails failed"
    exit 1
fi
if ! lab_servers_start; then
    fail "the lab's servers start"
    echo "$((checks - fails)) passed, $fails failed"
    exit 1
fi

run_case udp-synack-drop udp-synack-drop 4 10 12 "udp_unanswered tcp_syn_unanswered" \
    "timeout noreply timeout"
case_end
run_case reject reject 6 6 6 "udp_unreachable tcp_syn_rejected" "refused refused refused"
case_end

lab_down
check "at the end: no $DEV_C / $DEV_R device in the root namespace" \
    test "$(ip -o link show | grep -cE "$DEV_C|$DEV_R")" = 0
echo "live upgrade test: $(($(date +%s) - T0)) s"
echo "$((checks - fails)) passed, $fails failed"
[ "$fails" = 0 ]
