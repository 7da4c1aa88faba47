#!/usr/bin/env bash
# test_replay_cli.sh - `tunneltap replay` end to end: usage and input errors,
# damaged files, stdin, --bpf, and the conn.log / JSON outputs.
#
# Needs $TT_BIN (the tunneltap binary). The checks that replay real traffic
# use the third-party captures in $TT_SHARED/captures-ndpi (default
# ../shared/captures-ndpi); without them they are skipped (exit 77).
set -uo pipefail

# shellcheck source=lib-check.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib-check.sh"
BIN=${TT_BIN:?TT_BIN must name the tunneltap binary}
SHARED=${TT_SHARED:-../shared}
NDPI=$SHARED/captures-ndpi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tt-replay.XXXXXX")
trap 'rm -rf "$TMP"' EXIT


# run NAME EXPECTED_STATUS ARGS... : runs the binary, output in $TMP/NAME.{out,err}
run() {
    local name=$1 want=$2
    shift 2
    "$BIN" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
    local got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$name: exit $got, want $want (tunneltap $*)"
        sed 's/^/    stderr: /' "$TMP/$name.err" >&2
        return 1
    fi
    ok
}

# has NAME STREAM TEXT : the captured stream contains TEXT (fixed string)
has() {
    if grep -qF -- "$3" "$TMP/$1.$2"; then ok; else
        fail "$1: $2 lacks '$3'"
        sed "s/^/    $2: /" "$TMP/$1.$2" | head -20 >&2
    fi
}

# A JSON checker: python3 first, jq if that is all there is.
json_check() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json, sys
n = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert isinstance(o["ts"], float) and o["uid"].startswith("C") and "tt_verdict" in o, line
    n += 1
print(n)' "$1"
    elif command -v jq >/dev/null 2>&1; then
        jq -c 'select(.uid and .tt_verdict)' "$1" | wc -l
    else
        echo "none"
    fi
}

# ---- usage errors (no capture needed) --------------------------------------

run no_args 2
has no_args err "usage: tunneltap COMMAND"
run unknown_cmd 2 frobnicate
has unknown_cmd err "unknown command 'frobnicate'"
run bridge_usage 2 bridge
has bridge_usage err "--tun"
run help 0 --help
has help out "replay"
# --version: tunneltap's (the project's, from CMakeLists.txt), nDPI's, libpcap's.
run version 0 --version
has version out "tunneltap $(sed -n 's/^project(tunneltap VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")"
has version out "nDPI $(pkg-config --modversion libndpi 2>/dev/null || echo 4.)"
has version out "libpcap version"
run replay_help 0 replay --help
has replay_help out "usage: tunneltap replay FILE [options]"
run no_file 2 replay
has no_file err "no capture file given"
run bad_option 2 replay x.pcap --frobnicate
has bad_option err "unknown option '--frobnicate'"
run missing_value 2 replay x.pcap --bpf
has missing_value err "option '--bpf' needs a value"
run bad_count 2 replay x.pcap --max-flows lots
has bad_count err "--max-flows wants a whole number"
run bad_seconds 2 replay x.pcap --udp-deadline -1
has bad_seconds err "--udp-deadline wants seconds"
run two_files 2 replay a.pcap b.pcap
has two_files err "unexpected argument 'b.pcap'"
run both_stdout 2 replay x.pcap --conn-log - --json -
has both_stdout err "cannot both write to stdout"

# ---- input errors ------------------------------------------------------------

run missing_file 2 replay "$TMP/nope.pcap"
has missing_file err "tunneltap: replay: cannot open '$TMP/nope.pcap': No such file or directory"
run directory 2 replay "$TMP"
has directory err "Is a directory"
echo "not a capture" >"$TMP/text.pcap"
run not_pcap 2 replay "$TMP/text.pcap"
has not_pcap err "$TMP/text.pcap: not a pcap or pcapng capture"
: >"$TMP/empty.pcap"
run empty_file 2 replay "$TMP/empty.pcap"
has empty_file err "empty file"

# A pcap of link type PPP (9) holding one 4-byte record, written by hand.
ppp=$TMP/ppp.pcap
printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00\x09\x00\x00\x00' >"$ppp"
printf '\x01\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x04\x00\x00\x00\xff\x03\x00\x21' >>"$ppp"
run ppp 2 replay "$ppp"
has ppp err "$ppp: link type PPP (9) is not supported (supported: RAW"
if [ -f "$NDPI/dlt_ppp.pcap" ]; then
    run ppp_real 2 replay "$NDPI/dlt_ppp.pcap"
    has ppp_real err "link type PPP (9) is not supported"
fi

# A RAW capture with no packets: analysed, nothing to judge.
printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00\x65\x00\x00\x00' >"$TMP/raw0.pcap"
run raw_empty 0 replay "$TMP/raw0.pcap"
has raw_empty out "(RAW, 0 packets)"
has raw_empty out "verdict: nothing to judge"
run bad_bpf 2 replay "$TMP/raw0.pcap" --bpf 'udp port'
has bad_bpf err "bad filter expression 'udp port'"
run unwritable 2 replay "$TMP/raw0.pcap" --conn-log "$TMP/no/such/dir/conn.log"
has unwritable err "cannot write '$TMP/no/such/dir/conn.log'"
# A summary standard output cannot take is an error, not a silent 0 (the
# last thing replay does: the check must survive its early exit).
if [ -w /dev/full ]; then
    "$BIN" replay "$ROOT/captures/reject-v4-eth.pcap" >/dev/full 2>"$TMP/full.err" </dev/null
    check "summary to a full disk: exit 1" test "$?" -eq 1
    has full err "tunneltap: replay: cannot write standard output: No space left on device"
fi

# --sort-buffer: past it the sorted logs' records go to an unnamed file in
# $TMPDIR in sorted runs (16k: 68 records a run, 126 records here); the logs
# and the summary are those of a run that kept them all, no file is left
# behind; where no file can be made they stay in memory, said on stderr.
spill_cap=$ROOT/captures/reject-v4-eth.pcap
mkdir "$TMP/spill"
run kept 0 replay "$spill_cap" --conn-log "$TMP/kept.log" --json "$TMP/kept.json"
TMPDIR=$TMP/spill run spilled 0 replay "$spill_cap" --sort-buffer 16k \
    --conn-log "$TMP/spilled.log" --json "$TMP/spilled.json"
TMPDIR=$TMP/no/such/dir run unspillable 0 replay "$spill_cap" --sort-buffer 16k \
    --conn-log "$TMP/unspillable.log" --json "$TMP/unspillable.json"
has unspillable err "warning: cannot spill connection records to a file in $TMP/no/such/dir (No such file or directory): 126 kept in memory"
for k in spilled unspillable; do
    if [ "$(grep -vc '^#' "$TMP/kept.log")" = 126 ] &&
        diff <(grep -v '^#open\|^#close' "$TMP/kept.log") <(grep -v '^#open\|^#close' "$TMP/$k.log") >/dev/null &&
        cmp -s "$TMP/kept.json" "$TMP/$k.json" &&
        diff <(tail -n +2 "$TMP/kept.out") <(tail -n +2 "$TMP/$k.out") >/dev/null; then ok; else
        fail "--sort-buffer 16k ($k): logs or summary differ from the run that kept every record"
    fi
done
check "--sort-buffer: no file left in \$TMPDIR" test -z "$(ls -A "$TMP/spill")"
run sortbuf_small 2 replay "$spill_cap" --sort-buffer 1k
has sortbuf_small err "--sort-buffer wants a size from 16k to 2048M (e.g. 256M), not '1k'"

# ---- real captures -----------------------------------------------------------

if [ ! -d "$NDPI" ]; then
    echo "SKIP: ../shared/captures-ndpi not found ($NDPI); $checks checks run, $fails failed" >&2
    [ "$fails" -eq 0 ] || exit 1
    exit 77
fi
cap=$NDPI/android.pcap # TCP, UDP, ICMP, IPv4 and IPv6, 500 packets

# conn.log: Zeek's header, 23 columns per line, #close at the end; JSON lines parse.
run full 0 replay "$cap" --conn-log "$TMP/conn.log" --json "$TMP/conn.json"
has full out "tunneltap replay: $cap (EN10MB, 500 packets"
has full out "verdict: "
bad_cols=$(awk -F'\t' '!/^#/ && NF != 23' "$TMP/conn.log" | wc -l)
rows=$(grep -vc '^#' "$TMP/conn.log")
if [ "$bad_cols" -eq 0 ] && [ "$rows" -gt 10 ]; then ok; else
    fail "conn.log: $rows rows, $bad_cols without 23 columns"
fi
if head -1 "$TMP/conn.log" | grep -qx '#separator \\x09' &&
    sed -n 5p "$TMP/conn.log" | grep -qx "$(printf '#path\tconn')" &&
    tail -1 "$TMP/conn.log" | grep -q '^#close	'; then ok; else
    fail "conn.log header or #close line"
    head -8 "$TMP/conn.log" >&2
fi
if awk -F'\t' '!/^#/ { if (prev != "" && $1 < prev) bad = 1; prev = $1 } END { exit bad }' \
    "$TMP/conn.log"; then ok; else fail "conn.log not sorted by ts"; fi
parsed=$(json_check "$TMP/conn.json")
if [ "$parsed" = "none" ]; then
    echo "note: neither python3 nor jq found: JSON lines not parsed" >&2
elif [ "$parsed" -eq "$rows" ]; then ok; else
    fail "JSON: $parsed records parse, conn.log has $rows"
fi

# --stream-logs: the same records, in the order the connections finished
# (not sorted), the same header and summary; the JSON lines the same set.
run stream 0 replay "$cap" --stream-logs --conn-log "$TMP/stream.log" --json "$TMP/stream.json"
if diff <(grep -v '^#' "$TMP/conn.log" | sort) <(grep -v '^#' "$TMP/stream.log" | sort) >/dev/null &&
    diff <(grep '^#' "$TMP/conn.log" | grep -v '^#open\|^#close') \
        <(grep '^#' "$TMP/stream.log" | grep -v '^#open\|^#close') >/dev/null &&
    tail -1 "$TMP/stream.log" | grep -q '^#close	'; then ok; else
    fail "--stream-logs: conn.log records or header differ from the sorted log's"
fi
if diff <(sort "$TMP/conn.json") <(sort "$TMP/stream.json") >/dev/null; then ok; else
    fail "--stream-logs: JSON lines differ from the sorted run's"
fi

# --dpi-first-name: nDPI stops at a flow's first name instead of reading on
# (docs/embedding.md). On this capture two DNS flows keep nDPI's first name,
# "DNS", instead of the one the answer refines (DNS.Apple, DNS.Google); every
# other field of every record is the same.
run first_name 0 replay "$cap" --dpi-first-name --json "$TMP/first.json"
if command -v python3 >/dev/null 2>&1; then
    if python3 - "$TMP/conn.json" "$TMP/first.json" <<'PY'; then ok; else fail "--dpi-first-name: records differ otherwise than documented"; fi
import json, sys
full = {o["uid"]: o for o in map(json.loads, open(sys.argv[1]))}
first = {o["uid"]: o for o in map(json.loads, open(sys.argv[2]))}
assert full.keys() == first.keys(), "not the same connections"
renamed = []
for uid, o in full.items():
    p = first[uid]
    assert {k: v for k, v in o.items() if k != "l7"} == {k: v for k, v in p.items() if k != "l7"}, uid
    if o.get("l7") != p.get("l7"):
        renamed.append((o.get("l7"), p.get("l7")))
assert sorted(renamed) == [("DNS.Apple", "DNS"), ("DNS.Google", "DNS")], renamed
PY
else
    echo "note: python3 not found: --dpi-first-name records not compared" >&2
fi
# nDPI's names are what ndpiReader would give, Tor's too: nDPI 4.2 names a
# TLS flow Tor from its SNI through its DGA check, which looks like a risk
# computation only (docs/PERFORMANCE-history.md, tenth round: turning it off renamed
# these three flows TLS).
if [ -f "$NDPI/bench/tor.pcap" ]; then
    run tor 0 replay "$NDPI/bench/tor.pcap" --json "$TMP/tor.json"
    tor=$(grep -c '"l7":"TLS.Tor"' "$TMP/tor.json")
    if [ "$tor" -eq 3 ]; then ok; else fail "tor.pcap: $tor flows named TLS.Tor, not 3"; fi
else
    echo "note: $NDPI/bench/tor.pcap not found: Tor's names not checked" >&2
fi
run first_name_no_dpi 2 replay "$cap" --dpi-first-name --no-dpi
has first_name_no_dpi err "--no-dpi and --dpi-first-name contradict each other"
if diff <(tail -n +2 "$TMP/full.out") <(tail -n +2 "$TMP/stream.out") >/dev/null; then ok; else
    fail "--stream-logs: the summary differs"
fi
if ! grep -v '^#' "$TMP/stream.log" | awk -F'\t' '{ if (prev != "" && $1 < prev) found = 1; prev = $1 } END { exit !found }'; then
    echo "note: --stream-logs wrote this capture's records in ts order anyway" >&2
fi

# Summary is the same whether the capture comes from a file, stdin or a pipe.
run file_quiet 0 replay "$cap"
if "$BIN" replay - <"$cap" >"$TMP/stdin.out" 2>"$TMP/stdin.err"; then ok; else
    fail "stdin: exit status"
fi
# a pipe, not a redirected file: no size, no seeking
# shellcheck disable=SC2002
if cat "$cap" | "$BIN" replay - >"$TMP/pipe.out" 2>"$TMP/pipe.err"; then ok; else
    fail "pipe: exit status"
fi
has stdin out "tunneltap replay: stdin (EN10MB, 500 packets"
if diff <(tail -n +2 "$TMP/file_quiet.out") <(tail -n +2 "$TMP/stdin.out") >/dev/null &&
    diff <(tail -n +2 "$TMP/file_quiet.out") <(tail -n +2 "$TMP/pipe.out") >/dev/null; then ok; else
    fail "stdin/pipe summary differs from the file's"
    diff "$TMP/file_quiet.out" "$TMP/pipe.out" >&2
fi

# --bpf udp: only UDP flows.
run bpf 0 replay "$cap" --bpf udp --conn-log "$TMP/udp.log"
has bpf out "matching 'udp'"
has bpf out "(TCP 0, UDP "
non_udp=$(awk -F'\t' '!/^#/ && $7 != "udp"' "$TMP/udp.log" | wc -l)
udp_rows=$(grep -vc '^#' "$TMP/udp.log")
if [ "$non_udp" -eq 0 ] && [ "$udp_rows" -gt 0 ]; then ok; else
    fail "--bpf udp: $non_udp of $udp_rows rows are not udp"
fi

# --conn-log -: the log on stdout, the summary moves to stderr.
run log_stdout 0 replay "$cap" --conn-log -
if head -1 "$TMP/log_stdout.out" | grep -qx '#separator \\x09'; then ok; else
    fail "--conn-log -: stdout does not start with the header"
fi
has log_stdout err "verdict: "

# --quiet: nothing on stdout; --progress on a pipe: no progress bar.
run quiet 0 replay "$cap" --quiet --progress
if [ ! -s "$TMP/quiet.out" ] && ! grep -q $'\r' "$TMP/quiet.err"; then ok; else
    fail "--quiet --progress without a tty printed something"
fi

# --quiet builds no conn records when nothing reads them: the alerts, the
# exit status and any log asked for are those of the loud run.
up="$ROOT/captures/upgrade-udp-synack-v4-raw.pcap"
read -r mts mlabel <"$ROOT/captures/upgrade-udp-synack-v4.marker"
run up_loud 3 replay "$up" --mark "$mts=$mlabel" --alerts "$TMP/up_loud.alerts" \
    --json "$TMP/up_loud.json" --fail-on-regression
run up_quiet 3 replay "$up" --mark "$mts=$mlabel" --alerts "$TMP/up_quiet.alerts" \
    --fail-on-regression -q
run up_quiet_json 3 replay "$up" --mark "$mts=$mlabel" --json "$TMP/up_quiet.json" \
    --fail-on-regression -q
if grep -q '"kind"' "$TMP/up_loud.alerts" && cmp -s "$TMP/up_loud.alerts" "$TMP/up_quiet.alerts" &&
    [ -s "$TMP/up_loud.json" ] && cmp -s "$TMP/up_loud.json" "$TMP/up_quiet.json" &&
    [ ! -s "$TMP/up_quiet.out" ]; then ok; else
    fail "--quiet changed the alerts or the conn records (or printed something)"
fi

# pcapng reads like pcap.
if [ -f "$NDPI/tcp_scan.pcapng" ]; then
    run pcapng 0 replay "$NDPI/tcp_scan.pcapng"
    has pcapng out "(EN10MB, 30 packets"
fi

# A capture cut mid-record: results for what was read, where it stopped, exit 2.
head -c 70000 "$cap" >"$TMP/cut.pcap"
run truncated 2 replay "$TMP/cut.pcap" --conn-log "$TMP/cut.log"
has truncated out "incomplete: $TMP/cut.pcap: cannot read packet "
has truncated out "verdict: "
has truncated err "$TMP/cut.pcap: cannot read packet "
has truncated err "truncated dump file"
has truncated err "packets read before that point"
cut_rows=$(grep -vc '^#' "$TMP/cut.log")
if [ "$cut_rows" -gt 0 ] && tail -1 "$TMP/cut.log" | grep -q '^#close'; then ok; else
    fail "truncated: conn.log has $cut_rows rows"
fi

# pcapng with interfaces of two link types (when mergecap is around).
if command -v mergecap >/dev/null 2>&1 && [ -f "$NDPI/dns.pcap" ]; then
    mergecap -F pcapng -w "$TMP/mixed.pcapng" "$NDPI/dns.pcap" "$ppp" 2>/dev/null
    run mixed 2 replay "$TMP/mixed.pcapng"
    has mixed err "different link types"
fi

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
