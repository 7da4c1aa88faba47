#!/usr/bin/env bash
# test_ndpi_tshark.sh - on ../shared/captures-ndpi, tunneltap agrees with tshark:
#  1. TCP streams left at SYN only (tshark tcp.completeness == 1) == tunneltap
#     connections whose history is SYNs only, and each of those is syn_unanswered;
#  2. UDP conversations with no packet in one direction (tshark -z conv,udp)
#     == tunneltap UDP connections with orig_pkts or resp_pkts == 0.
set -u
dir="${TT_SHARED:-../shared}/captures-ndpi"
if [ ! -d "$dir" ]; then
  echo "SKIP: $dir not found (the shared third-party captures are not in this clone)"
  exit 77
fi
command -v tshark >/dev/null || { echo "SKIP: tshark not installed"; exit 77; }
bin="${TT_BIN:?TT_BIN must point at the tunneltap binary}"
pass=0 fail=0
for f in "$dir"/*.pcap "$dir"/*.pcapng; do
  b=$(basename "$f")
  log=$("$bin" replay "$f" --quiet --conn-log - 2>/dev/null) || {
    [ "$b" = dlt_ppp.pcap ] && continue   # PPP link type: refused by design
    echo "FAIL $b: replay failed"; fail=$((fail+1)); continue; }
  t_syn=$(tshark -r "$f" -2 -T fields -e tcp.stream -e tcp.completeness 2>/dev/null |
          awk -F'\t' '$1!=""{c[$1]=$2} END{n=0; for (s in c) if (c[s]==1) n++; print n}')
  o_syn=$(printf '%s\n' "$log" | awk -F'\t' '$7=="tcp" && $16 ~ /^S+$/' | wc -l)
  o_bad=$(printf '%s\n' "$log" | awk -F'\t' '$7=="tcp" && $16 ~ /^S+$/ && $22!="syn_unanswered"' | wc -l)
  t_udp=$(tshark -r "$f" -q -z conv,udp 2>/dev/null | awk '/<->/{ if ($4==0 || $6==0) n++ } END{print n+0}')
  o_udp=$(printf '%s\n' "$log" | awk -F'\t' '$7=="udp" && ($17==0 || $19==0)' | wc -l)
  if [ "$t_syn" = "$o_syn" ] && [ "$o_bad" = 0 ] && [ "$t_udp" = "$o_udp" ]; then
    pass=$((pass+1)); echo "ok   $b: SYN-only $o_syn, one-sided UDP $o_udp"
  else
    fail=$((fail+1))
    echo "FAIL $b: SYN-only tshark $t_syn tunneltap $o_syn (not syn_unanswered: $o_bad); one-sided UDP tshark $t_udp tunneltap $o_udp"
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
