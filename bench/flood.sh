#!/usr/bin/env bash
# flood.sh [NSYN] - bounded memory under a SYN flood (default 1,000,000 SYNs).
#
# Writes a RAW pcap with NSYN SYNs from random sources (100.64.0.0/10, to
# four targets) spread over a real capture, whose flows are merged in
# (captures/udp-synack-drop-v4-raw.pcap: 124 flows, TCP/UDP/ICMP, some
# failing), then checks:
#   1. `tunneltap replay` with default settings peaks below 200 MB RSS,
#   2. its summary counts evictions (flow.evicted > 0),
#   3. every real flow gets the verdict it gets when the real capture is
#      replayed alone (a flow the flood split in two must carry the same
#      verdict in both records; splits are reported),
#   4. a default embedded tt_tap taking the same stream grows by at most
#      16 MiB of RSS beyond the process baseline.
# Env: TT_BIN (tunneltap, default build/tunneltap), TT_GEN_FLOOD (gen_flood,
# built from bench/gen_flood.c against TT_BUILD's library when unset),
# TT_FLOOD_RSS_MB (200), TT_EMBED_GROWTH_MB (16).
set -euo pipefail
cd "$(dirname "$0")/.."
NSYN=${1:-1000000}
BUILD=${TT_BUILD:-build}
BIN=${TT_BIN:-$BUILD/tunneltap}
REAL=${TT_FLOOD_REAL:-captures/udp-synack-drop-v4-raw.pcap}
RSS_MB=${TT_FLOOD_RSS_MB:-200}
GROWTH_MB=${TT_EMBED_GROWTH_MB:-16}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tt-flood.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

GEN=${TT_GEN_FLOOD:-}
if [ -z "$GEN" ]; then
    [ -f "$BUILD/libtunneltap.a" ] || {
        echo "flood.sh: no $BUILD/libtunneltap.a (build first, or set TT_GEN_FLOOD)" >&2
        exit 2
    }
    GEN=$TMP/gen_flood
    ring=$(ls "$BUILD"/libtt_ring.a 2>/dev/null || true)
    # shellcheck disable=SC2046
    cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude bench/gen_flood.c "$BUILD/libtunneltap.a" $ring \
        $(pkg-config --libs libndpi libpcap jansson) -lpthread -lm -o "$GEN"
fi

# peak RSS (KiB) of a command, without depending on /usr/bin/time
maxrss() {
    python3 -c 'import resource, subprocess, sys
r = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], "w"))
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(r.returncode)' "$@"
}

"$GEN" write "$TMP/flood.pcap" "$NSYN" "$REAL"
size=$(stat -c %s "$TMP/flood.pcap")
t0=$(date +%s.%N)
set +e
rss_kb=$(maxrss "$TMP/flood.out" "$BIN" replay "$TMP/flood.pcap")
st=$?
set -e
t1=$(date +%s.%N)
[ "$st" -eq 0 ] || fail "replay of the flood: exit $st"
evicted=$(grep -o 'flow\.evicted [0-9]*' "$TMP/flood.out" | awk '{print $2}' || true)
evicted=${evicted:-0}
flows=$(awk '/^flows:/ {print $2}' "$TMP/flood.out")
echo "flood: $NSYN SYNs merged with $REAL -> $size-byte pcap, $flows flows"
awk -v k="$rss_kb" -v lim="$RSS_MB" -v a="$t0" -v b="$t1" -v e="$evicted" 'BEGIN {
    printf "flood: replay peak RSS %d KiB (%.1f MiB, limit %d MB), %.1f s, flow.evicted %s\n",
        k, k / 1024, lim, b - a, e }'
[ "$rss_kb" -lt $((RSS_MB * 1000000 / 1024)) ] || fail "replay peaked at $rss_kb KiB, above $RSS_MB MB"
[ "$evicted" -gt 0 ] || fail "no evictions counted (flow.evicted) in the summary"

# Verdicts of the real flows, with and without the flood around them.
"$BIN" replay "$REAL" --quiet --conn-log "$TMP/real.log"
"$BIN" replay "$TMP/flood.pcap" --quiet --conn-log "$TMP/flood.log"
python3 - "$TMP/real.log" "$TMP/flood.log" <<'PY' || fails=$((fails + 1))
import ipaddress, sys
flood_net = ipaddress.ip_network('100.64.0.0/10')
def load(path):
    recs = {}
    for line in open(path):
        if line.startswith('#'):
            continue
        f = line.rstrip('\n').split('\t')
        if ipaddress.ip_address(f[2]) in flood_net:
            continue
        key = (f[2], f[3], f[4], f[5], f[6])
        recs.setdefault(key, []).append((f[21], f[22]))  # tt_verdict, tt_certainty
    return recs
real, flood = load(sys.argv[1]), load(sys.argv[2])
wrong, split, unsure = [], 0, 0
for key, recs in real.items():
    got = flood.get(key, [])
    want = sorted(set(v for v, c in recs))
    if sorted(set(v for v, c in got)) != want:
        wrong.append((key, want, got))
    split += max(0, len(got) - len(recs))
    unsure += sum(1 for v, c in got if c == 'uncertain') - sum(1 for v, c in recs if c == 'uncertain')
extra = [k for k in flood if k not in real]
print('flood: real flows %d, judged the same %d, wrong %d; records split by eviction %d, '
      'more uncertain %d, unknown tuples %d' % (len(real), len(real) - len(wrong), len(wrong),
                                                  split, max(0, unsure), len(extra)))
for key, want, got in wrong[:10]:
    print('FAIL: %s alone %s, in the flood %s' % (' '.join(key), want, got), file=sys.stderr)
sys.exit(1 if wrong or extra else 0)
PY

# The embedded default: a tt_tap with tt_tap_config_init's settings.
"$GEN" embed "$NSYN" "$REAL" | tee "$TMP/embed.out"
growth=$(grep -o 'growth_kb=[0-9-]*' "$TMP/embed.out" | cut -d= -f2)
lost=$(grep -o 'lost=[0-9]*' "$TMP/embed.out" | cut -d= -f2)
[ "${growth:-999999}" -le $((GROWTH_MB * 1024)) ] ||
    fail "embedded tap grew by ${growth} KiB, above $GROWTH_MB MiB"
[ "${lost:-1}" -eq 0 ] || fail "embedded tap lost $lost packets"

if [ "$fails" -eq 0 ]; then
    echo "flood: 4 passed, 0 failed"
else
    echo "flood: $fails failed"
    exit 1
fi
