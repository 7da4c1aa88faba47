#!/usr/bin/env bash
# test_dashboard.sh - the live dashboard (`tunneltap replay --dashboard`) in a real
# terminal: tmux runs it, send-keys types, capture-pane reads the screen.
#
# Checks: the refusal without a terminal (exit 2, a clear message, nothing
# drawn); the panels' final counts against `replay --json` of the same
# capture; the alerts naming the marker; the 'm' prompt adding a marker that
# the timeline, the summary and --alerts show; '/', 's', 'p', '?'; every
# panel title at 80x24 after a resize; 'q' giving the terminal back (no
# alternate screen, cursor visible, stty settings unchanged) and the summary
# printed after it; a port scan's 40 ports as one destination row, as the
# summary shows them.
#
# Needs $TT_BIN and tmux (exit 77 without tmux). The scenario is
# captures/udp-synack-drop-v4 (a recorded filter upgrade); when it is
# missing, a synthetic one is generated with python3. The screens are kept
# in $TT_BUILD/dashboard-*.txt for the documentation.
set -uo pipefail

# shellcheck source=lib-check.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib-check.sh"
BIN=${TT_BIN:?TT_BIN must name the tunneltap binary}
OUT=${TT_BUILD:-.}
command -v tmux >/dev/null 2>&1 || {
    echo "SKIP: tmux is not installed: the dashboard test needs a terminal to drive"
    exit 77
}
command -v python3 >/dev/null 2>&1 || {
    echo "SKIP: python3 is needed to read the expected counts from --json"
    exit 77
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tt-dash.XXXXXX")
SOCK="tt-dash-$$"
SOCKPATH=
WATCHDOG=
TM() { tmux -L "$SOCK" -f /dev/null "$@"; }
cleanup() {
    TM kill-server >/dev/null 2>&1
    [ -n "$SOCKPATH" ] && rm -f "$SOCKPATH" # kill-server leaves the socket file
    [ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

# has FILE TEXT WHAT: FILE contains TEXT (fixed string)
has() {
    if grep -qF -- "$2" "$1"; then ok; else
        fail "$3: no '$2' in $(basename "$1")"
        sed 's/^/    | /' "$1" >&2
    fi
}
lacks() {
    if grep -qF -- "$2" "$1"; then
        fail "$3: unexpected '$2' in $(basename "$1")"
        sed 's/^/    | /' "$1" >&2
    else ok; fi
}

# rawpcap.py: what the generated captures below are written with (raw IP).
cat >"$TMP/rawpcap.py" <<'EOF'
import struct
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('>%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def ip(src, dst, proto, payload):
    h = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + len(payload), 0, 0, 64, proto, 0, src, dst)
    return h[:10] + struct.pack('>H', csum(h)) + h[12:] + payload
def tcp(src, dst, s, d, seq, ack, flags):
    return ip(src, dst, 6, struct.pack('>HHIIBBHHH', s, d, seq, ack, 0x50, flags, 65535, 0, 0))
def write(path, pkts):
    """pkts: (seconds, IP packet), written in time order."""
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
        for t, p in sorted(pkts, key=lambda x: x[0]):
            us = int(round(t * 1e6))
            f.write(struct.pack('<IIII', us // 1000000, us % 1000000, len(p), len(p)) + p)
EOF
export PYTHONPATH="$TMP"

# ---- the scenario ---------------------------------------------------------

CAP=captures/udp-synack-drop-v4-raw.pcap
MARKFILE=captures/udp-synack-drop-v4.marker
if [ -f "$CAP" ] && [ -f "$MARKFILE" ]; then
    read -r EPOCH LABEL <"$MARKFILE"
else
    # One DNS query and one TCP handshake every 0.5 s for 20 s; after 10 s
    # the answers and the SYN-ACKs stop (a filter upgrade).
    CAP=$TMP/synthetic-upgrade.pcap
    EPOCH=1764230410
    LABEL="synthetic upgrade"
    echo "note: $MARKFILE missing, using a synthetic capture"
    python3 - "$CAP" <<'EOF'
import struct, sys
from rawpcap import ip, tcp, write
C, S = bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1])
pkts = []
t0 = 1764230400.0
for i in range(40):
    t = t0 + i * 0.5
    after = t >= t0 + 10
    port = 30000 + i
    q = struct.pack('>HHHH', port, 53, 20, 0) + b'\x12\x34\x01\x00' + b'\0' * 8
    pkts.append((t, ip(C, S, 17, q)))
    if not after:
        a = struct.pack('>HHHH', 53, port, 20, 0) + b'\x12\x34\x81\x80' + b'\0' * 8
        pkts.append((t + 0.01, ip(S, C, 17, a)))
    sp = 40000 + i
    pkts.append((t + 0.1, tcp(C, S, sp, 80, 1000, 0, 0x02)))
    if not after:
        pkts.append((t + 0.11, tcp(S, C, 80, sp, 5000, 1001, 0x12)))
        pkts.append((t + 0.12, tcp(C, S, sp, 80, 1001, 5001, 0x10)))
        pkts.append((t + 0.13, tcp(C, S, sp, 80, 1001, 5001, 0x11)))
        pkts.append((t + 0.14, tcp(S, C, 80, sp, 5001, 1002, 0x11)))
        pkts.append((t + 0.15, tcp(C, S, sp, 80, 1002, 5002, 0x10)))
write(sys.argv[1], pkts)
EOF
fi

# ---- without a terminal: refuse, exit 2, draw nothing ----------------------

"$BIN" replay "$CAP" --dashboard </dev/null >"$TMP/noterm.out" 2>"$TMP/noterm.err"
rc=$?
if [ "$rc" -eq 2 ]; then ok; else fail "no terminal: exit $rc, want 2"; fi
has "$TMP/noterm.err" "needs a terminal" "no terminal"
if [ -s "$TMP/noterm.out" ]; then fail "no terminal: something was written to stdout"; else ok; fi
TERM=dumb "$BIN" replay "$CAP" --dashboard </dev/null >/dev/null 2>"$TMP/dumb.err"
rc=$?
if [ "$rc" -eq 2 ]; then ok; else fail "stdin not a terminal, TERM=dumb: exit $rc, want 2"; fi
"$BIN" replay "$CAP" --dashboard --json - </dev/null >/dev/null 2>"$TMP/stdout.err"
rc=$?
if [ "$rc" -eq 2 ]; then ok; else fail "--dashboard --json -: exit $rc, want 2"; fi
has "$TMP/stdout.err" "--dashboard draws on stdout" "--dashboard --json -"
"$BIN" replay "$CAP" --speed fast </dev/null >/dev/null 2>"$TMP/speed.err"
rc=$?
if [ "$rc" -eq 2 ]; then ok; else fail "--speed fast: exit $rc, want 2"; fi

# ---- the expected figures: replay --json of the same capture ---------------

"$BIN" replay "$CAP" --quiet --json "$TMP/conn.json" </dev/null || fail "replay --json failed"
# One line per expectation: a regular expression the screen must match.
python3 - "$TMP/conn.json" >"$TMP/expect.txt" <<'EOF'
import collections, json, re, sys
count = collections.Counter()
unc = collections.Counter()
svc = collections.defaultdict(lambda: [0, 0, 0])
dest = collections.defaultdict(lambda: [0, 0, 0])
total = 0
failures = {'syn_unanswered', 'syn_rejected', 'synack_unacked', 'unanswered',
            'icmp_unreachable', 'malformed'}
for line in open(sys.argv[1]):
    c = json.loads(line)
    proto, v = c['proto'], c['tt_verdict']
    total += 1
    count[proto, v] += 1
    u = c.get('tt_certainty') == 'uncertain'
    if u:
        unc[proto, v] += 1
    port = c['id.orig_p'] if proto == 'icmp' else c['id.resp_p']
    for table, key in ((svc, c.get('service')), (dest, (c['id.resp_h'], proto, port))):
        if key is None:
            continue
        e = table[key]
        e[0] += 1
        if v in failures:
            e[2 if u else 1] += 1
print(r'Flows by verdict %d judged, 0 pending' % total)
for (proto, v), n in sorted(count.items()):
    tok = '%s %d' % (v, n)
    if unc[proto, v]:
        tok += ' (%d uncertain)' % unc[proto, v]
    print(r'^ %-4s +\d+ .*\b%s(?![\d])' % (proto.upper(), re.escape(tok)))
for name, (n, f, u) in svc.items():
    print(r'\b%s +%d +%d +%s +%d%%' % (re.escape(name), n, f, r'\+%d' % u if u else '-',
                                      round(100.0 * f / n)))
for (h, proto, port), (n, f, u) in dest.items():
    if f or u:
        print(r'\b%s %s/%d .* %d/%d +%s' % (re.escape(h), proto, port, f, n,
                                             r'\+%d' % u if u else '-'))
EOF
[ -s "$TMP/expect.txt" ] && ok || fail "no expectations from --json"

# screen_matches FILE WHAT: every line of expect.txt matches somewhere in FILE
screen_matches() {
    python3 - "$TMP/expect.txt" "$1" "$2" <<'EOF' || fails=$((fails + 1))
import re, sys
screen = open(sys.argv[2]).read().splitlines()
bad = 0
for pat in open(sys.argv[1]).read().splitlines():
    if not any(re.search(pat, l) for l in screen):
        print('FAIL: %s: nothing on screen matches /%s/' % (sys.argv[3], pat), file=sys.stderr)
        bad += 1
if bad:
    print('\n'.join('    | ' + l for l in screen), file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
    checks=$((checks + 1))
}

# ---- the terminal ---------------------------------------------------------

UTF8=
for l in C.UTF-8 C.utf8 en_US.UTF-8 en_US.utf8; do
    if locale -a 2>/dev/null | grep -qix "$l"; then UTF8=$l; break; fi
done
TM new-session -d -s dash -x 120 -y 40 -e "LANG=${UTF8:-C}" -e "LC_ALL=" \
    "bash --norc --noprofile" || {
    echo "SKIP: tmux cannot start a session here"
    exit 77
}
TM set-option -t dash history-limit 2000 >/dev/null
SOCKPATH=$(TM display -p '#{socket_path}' 2>/dev/null)
# A test killed outright (a ctest timeout) runs no trap: the server, a
# daemon, would outlive it. This watchdog ends it when the script is gone.
(
    while kill -0 $$ 2>/dev/null; do sleep 1; done
    tmux -L "$SOCK" -f /dev/null kill-server
    [ -n "$SOCKPATH" ] && rm -f "$SOCKPATH"
) </dev/null >/dev/null 2>&1 &
WATCHDOG=$!
sleep 0.3

screen() { TM capture-pane -p -t dash; }
# wait_for TEXT SECONDS: until the screen shows TEXT
wait_for() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        screen | grep -qF -- "$1" && return 0
        sleep 0.1
    done
    return 1
}
send() { TM send-keys -t dash "$@"; }
type_text() { TM send-keys -t dash -l "$1"; }

send "PS1='tt-prompt\$ '; cd $(printf %q "$PWD") && stty -g >$TMP/stty.before" Enter
sleep 0.3

# ---- run 1: --speed 10 with the recorded marker ---------------------------

send "clear; $(printf %q "$BIN") replay $(printf %q "$CAP") --dashboard --speed 10 --mark $(printf %q "$EPOCH=$LABEL") --alerts $TMP/alerts1.jsonl; echo \"exit=\$?\" >$TMP/exit1; stty -g >$TMP/stty.after" Enter
if wait_for "Flows by verdict" 10; then ok; else
    fail "run 1: the dashboard did not appear"
    screen >&2
fi
TM display -p -t dash '#{alternate_on}' >"$TMP/alt-during"
has "$TMP/alt-during" "1" "run 1: alternate screen while the dashboard runs"
if wait_for "end of file" 60; then ok; else fail "run 1: never reached the end of the file"; fi
sleep 0.6
screen >"$TMP/screen-120x40.txt"
cp "$TMP/screen-120x40.txt" "$OUT/dashboard-120x40.txt" 2>/dev/null
screen_matches "$TMP/screen-120x40.txt" "run 1 at 120x40"
for t in Traffic "Flows by verdict" Timeline Services Destinations Alerts "END OF FILE"; do
    has "$TMP/screen-120x40.txt" "$t" "run 1 at 120x40"
done
# the alerts name the marker; the timeline shows it
label16=${LABEL:0:16}
has "$TMP/screen-120x40.txt" "since \"$label16" "run 1: alert after the marker"
has "$TMP/screen-120x40.txt" "UDP broken since" "run 1: UDP alert"
has "$TMP/screen-120x40.txt" "TCP handshakes failing since" "run 1: TCP alert"
grep -E '^ markers +(▼|v) ' "$TMP/screen-120x40.txt" >/dev/null && ok ||
    fail "run 1: no marker glyph on the timeline"

# keys while holding: sort, filter, pause, help
send s
sleep 0.4
screen >"$TMP/sorted.txt"
has "$TMP/sorted.txt" "sort: flows" "key s"
send /
sleep 0.2
type_text "udp"
send Enter
sleep 0.4
screen >"$TMP/filtered.txt"
has "$TMP/filtered.txt" "filter: udp" "key /"
lacks "$TMP/filtered.txt" "tcp/80" "key / (udp): a TCP destination is still shown"
send / C-u Enter
sleep 0.4
screen >"$TMP/unfiltered.txt"
has "$TMP/unfiltered.txt" "tcp/80" "key / (cleared)"
send p
sleep 0.4
screen >"$TMP/paused.txt"
has "$TMP/paused.txt" "PAUSED" "key p"
send p '?'
sleep 0.4
screen >"$TMP/help.txt"
has "$TMP/help.txt" "tunneltap dashboard: keys" "key ?"
send x
sleep 0.3

# 80x24: every panel keeps its title, the counts stay right
TM resize-window -t dash -x 80 -y 24
sleep 1
screen >"$TMP/screen-80x24.txt"
cp "$TMP/screen-80x24.txt" "$OUT/dashboard-80x24.txt" 2>/dev/null
for t in Traffic "Flows by verdict" Timeline Services Destinations Alerts; do
    has "$TMP/screen-80x24.txt" "$t" "at 80x24"
done
lacks "$TMP/screen-80x24.txt" "keys" "at 80x24 (help still open)"
grep -E '^ (TCP|UDP) +[0-9]' "$TMP/screen-80x24.txt" | grep -vE '\b(closed|answered|established|syn_|unanswered)' &&
    fail "at 80x24: a verdict row lost its counts" || ok
python3 -c 'import sys; sys.exit(any(len(l) > 80 for l in open(sys.argv[1], encoding="utf-8").read().splitlines()))' "$TMP/screen-80x24.txt" && ok ||
    fail "at 80x24: a line is wider than the terminal"

# q: the terminal comes back, then the summary
send q
if wait_for "tt-prompt\$" 20 && [ -s "$TMP/exit1" ]; then ok; else fail "run 1: no prompt after q"; fi
sleep 0.3
TM capture-pane -p -t dash -S -60 >"$TMP/after1.txt"
has "$TMP/exit1" "exit=0" "run 1: exit status"
has "$TMP/after1.txt" "verdict: BROKEN" "run 1: the summary after q"
lacks "$TMP/after1.txt" "Flows by verdict" "run 1: leftover dashboard after q"
TM display -p -t dash '#{alternate_on} #{cursor_flag}' >"$TMP/term-after"
has "$TMP/term-after" "0 1" "run 1: terminal after q (alternate screen off, cursor on)"
if cmp -s "$TMP/stty.before" "$TMP/stty.after"; then ok; else fail "run 1: stty settings changed"; fi
[ -s "$TMP/alerts1.jsonl" ] && ok || fail "run 1: --alerts wrote nothing"
has "$TMP/alerts1.jsonl" "\"marker\":\"$label16" "run 1: --alerts"

# ---- run 2: 'm' adds a marker at the replay's packet time -----------------

TM resize-window -t dash -x 120 -y 40
send "clear; $(printf %q "$BIN") replay $(printf %q "$CAP") --dashboard --speed 2 --alerts $TMP/alerts2.jsonl; echo \"exit=\$?\" >$TMP/exit2" Enter
wait_for "Flows by verdict" 10 || fail "run 2: the dashboard did not appear"
sleep 0.5
send m
sleep 0.2
type_text "oops"
send Escape
sleep 0.3
screen >"$TMP/cancel.txt"
has "$TMP/cancel.txt" "cancelled" "run 2: Esc cancels the marker prompt"
# the typed marker goes where the recorded one was: wait for the header's
# packet clock to reach it (the alerts then compare around the typed one)
upgrade_hms=$(date -u -d "@${EPOCH%.*}" +%H:%M:%S)
for ((i = 0; i < 300; i++)); do
    now_hms=$(screen | head -1 | grep -oE '[0-9]{2}:[0-9]{2}:[0-9]{2} UTC' | cut -c1-8)
    [ -n "$now_hms" ] && [[ ! "$now_hms" < "$upgrade_hms" ]] && break
    sleep 0.1
done
send m
sleep 0.2
screen >"$TMP/prompt.txt"
has "$TMP/prompt.txt" "marker label:" "run 2: the marker prompt"
type_text "dash test marker"
send Enter
sleep 0.5
screen >"$TMP/marked.txt"
has "$TMP/marked.txt" "marker \"dash test marker\" added at" "run 2: marker message"
has "$TMP/marked.txt" "(packet time)" "run 2: marker placed at packet time"
has "$TMP/marked.txt" "1 marker" "run 2: the timeline counts it"
if wait_for "end of file" 60; then ok; else fail "run 2: never reached the end of the file"; fi
sleep 0.5
screen >"$TMP/end2.txt"
grep -E '^ markers +.*dash test marker' "$TMP/end2.txt" >/dev/null && ok ||
    fail "run 2: the timeline does not show the marker's label"
send m
sleep 0.3
screen >"$TMP/held-m.txt"
has "$TMP/held-m.txt" "markers can no longer be added" "run 2: m after the end"
send q
wait_for "tt-prompt\$" 20 || fail "run 2: no prompt after q"
sleep 0.3
TM capture-pane -p -t dash -S -60 >"$TMP/after2.txt"
has "$TMP/exit2" "exit=0" "run 2: exit status"
has "$TMP/after2.txt" "marker \"dash test marker\"" "run 2: the summary names the marker"
# the typed marker is the only one: the alerts compare around it
has "$TMP/alerts2.jsonl" "\"marker\":\"dash test marker\"" "run 2: --alerts names the typed marker"
python3 - "$TMP/alerts2.jsonl" "$CAP" <<'EOF' && ok || fail "run 2: the typed marker is not inside the capture's time"
import json, struct, sys
a = [json.loads(l) for l in open(sys.argv[1])]
raw = open(sys.argv[2], 'rb').read()
first = struct.unpack('<I', raw[24:28])[0]
m = [x['marker_ts'] for x in a if x.get('marker') == 'dash test marker']
sys.exit(0 if m and first <= m[0] < first + 3600 else 1)
EOF

# ---- run 3: q before the end stops reading and still reports ---------------

send "clear; $(printf %q "$BIN") replay $(printf %q "$CAP") --dashboard --speed 1 --json $TMP/early.json; echo \"exit=\$?\" >$TMP/exit3" Enter
wait_for "Flows by verdict" 10 || fail "run 3: the dashboard did not appear"
sleep 1.5
send q
wait_for "tt-prompt\$" 20 || fail "run 3: no prompt after an early q"
sleep 0.3
TM capture-pane -p -t dash -S -60 >"$TMP/after3.txt"
has "$TMP/exit3" "exit=0" "run 3: exit status after an early q"
has "$TMP/after3.txt" "reading stopped by the user" "run 3: the summary says reading stopped"
[ -s "$TMP/early.json" ] && ok || fail "run 3: --json empty after an early q"

# ---- run 4: a port scan is one destination row, as in the summary ----------

# 40 SYNs from 10.1.1.1 to 40 ports of 10.9.9.9, never answered, then a
# datagram 30 s later that moves the clock past their deadlines (raw IP).
python3 - "$TMP/scan.pcap" <<'EOF'
import struct, sys
from rawpcap import ip, tcp, write
src, dst = bytes([10, 1, 1, 1]), bytes([10, 9, 9, 9])
pkts = [(1700000000 + i / 10, tcp(src, dst, 40000 + i, 2000 + i, 1000 + i, 0, 0x02))
        for i in range(40)]
pkts.append((1700000030, ip(src, bytes([10, 9, 9, 8]), 17, struct.pack('>HHHH', 40100, 9, 8, 0))))
write(sys.argv[1], pkts)
EOF
"$BIN" replay "$TMP/scan.pcap" >"$TMP/scan-summary.txt" 2>&1
has "$TMP/scan-summary.txt" "10.9.9.9  tcp/* (40 ports)  syn_unanswered 40 of 40" "run 4: the summary's row"
send "clear; $(printf %q "$BIN") replay $(printf %q "$TMP/scan.pcap") --dashboard --speed max; echo \"exit=\$?\" >$TMP/exit4" Enter
if wait_for "end of file" 20; then ok; else fail "run 4: never reached the end of the file"; fi
sleep 0.5
screen >"$TMP/scan-screen.txt"
cp "$TMP/scan-screen.txt" "$OUT/dashboard-scan-120x40.txt" 2>/dev/null
grep -E ' 10\.9\.9\.9 tcp/\* +40 ports +40/40 ' "$TMP/scan-screen.txt" >/dev/null && ok ||
    { fail "run 4: no single row '10.9.9.9 tcp/*  40 ports  40/40'"; sed 's/^/    | /' "$TMP/scan-screen.txt" >&2; }
sed -n '/Destinations sort/,$p' "$TMP/scan-screen.txt" >"$TMP/scan-dest.txt"
has "$TMP/scan-dest.txt" "10.9.9.8 udp/9" "run 4: the other destination's row"
lacks "$TMP/scan-dest.txt" "tcp/20" "run 4: a scanned port has a destination row of its own"
send q
wait_for "tt-prompt\$" 20 || fail "run 4: no prompt after q"
has "$TMP/exit4" "exit=0" "run 4: exit status"

echo "test_dashboard: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
