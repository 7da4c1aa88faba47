#!/usr/bin/env bash
# make_capture.sh - builds the benchmark captures under bench/out/, reproducibly.
#
# Compiles bench/gen_capture.c (cc + libpcap) and runs it on the project's own
# recordings (captures/*-eth.pcap, *-raw.pcap): copies with rewritten
# addresses and shifted times, merged in time order. Same inputs, same bytes:
# captures.tsv lists each file's packet count and SHA-256 so that two
# machines can check they measure the same thing.
#
#   bench/make_capture.sh [--scales "0.25 0.5 1 2"] [--force]
#
# Writes, for LINK in eth and raw:
#   mixed-LINK.pcap    ~1 M packets, ~100 k flows (recording copies + keep-alive flows)
#   synscan-LINK.pcap  1 M packets, every one a SYN opening a new flow
#   long-LINK.pcap     1 000 flows of ~1 000 packets
#   mixed-LINK-xS.pcap the mixed capture at each scale S (for the linearity check)
#   mid-eth.pcap       the mixed capture at 0.1x: 100 k packets, for profiling
#   fixed-eth.pcap     the mixed capture at 0.0005x: one keep-alive flow of 298
#                      packets, to measure each tool's fixed cost (start-up, memory)
# CAPTURES=DIR reads the recordings from DIR instead of captures/.
# About 1.6 GB in all with the default scales. Nothing here is tracked by git.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${OUT:-$here/out}
scales="0.25 0.5 1 2"
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --scales) scales=$2; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "make_capture.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done

mkdir -p "$out"
gen=$out/gen_capture
if [ ! -x "$gen" ] || [ "$here/gen_capture.c" -nt "$gen" ]; then
  cc -O2 -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Wshadow -Wconversion \
     -o "$gen" "$here/gen_capture.c" -lpcap
fi

# make NAME MODE LINK SCALE
make_one() {
  local f=$out/$1.pcap
  if [ $force -eq 1 ] || [ ! -s "$f" ] || [ ! -s "$f.log" ] || [ "$gen" -nt "$f" ]; then
    "$gen" -d "${CAPTURES:-$root/captures}" -l "$3" -s "$4" -o "$f" "$2" 2>"$f.log"
  fi
  local pkts
  pkts=$(sed -n 's/.*: \([0-9]*\) packets,.*/\1/p' "$f.log")
  printf '%s\t%s\t%s\t%s\n' "$1.pcap" "$pkts" "$(stat -L -c %s "$f")" \
    "$(sha256sum "$f" | cut -d' ' -f1)" >>"$out/captures.tsv.new"
}

: >"$out/captures.tsv.new"
for link in eth raw; do
  make_one "mixed-$link" mixed $link 1
  make_one "synscan-$link" synscan $link 1
  make_one "long-$link" long $link 1
  for s in $scales; do
    if [ "$s" = 1 ]; then
      # the same file under the scaling runs' own name
      ln -sf "mixed-$link.pcap" "$out/mixed-$link-x1.pcap"
      cp "$out/mixed-$link.pcap.log" "$out/mixed-$link-x1.pcap.log"
      make_one "mixed-$link-x1" mixed $link 1
      continue
    fi
    make_one "mixed-$link-x$s" mixed $link "$s"
  done
done
make_one mid-eth mixed eth 0.1 # the mid-size capture for callgrind (README.md)
make_one fixed-eth mixed eth 0.0005 # one flow: fixed costs
{ printf 'file\tpackets\tbytes\tsha256\n'; cat "$out/captures.tsv.new"; } >"$out/captures.tsv"
rm -f "$out/captures.tsv.new"
column -t -s $'\t' "$out/captures.tsv" 2>/dev/null || cat "$out/captures.tsv"
