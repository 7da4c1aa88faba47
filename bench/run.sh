#!/usr/bin/env bash
# run.sh - one-shot speed and memory comparison: tunneltap replay against its peers.
#
# Builds the captures (bench/make_capture.sh) if they are missing, then runs,
# round-robin (the order shuffled each round) so that machine noise spreads
# over every tool alike, N times:
#   tunneltap replay FILE                 (the analyzer, nDPI on, the summary: the
#                                          default job; its output goes to /dev/null)
#   tunneltap replay FILE --no-dpi        (the same without nDPI: its share)
#   tunneltap replay FILE --dpi-first-name (nDPI stopped at each flow's first
#                                          name: the CPU its extra dissection takes)
#   ndpiReader -i FILE -q                 (Debian libndpi-bin; one thread: a pcap
#                                          file is always read by one thread, -n
#                                          is ignored for files)
#   tshark -r FILE -q -z conv,tcp         (Wireshark's conversation table)
#   tcpdump -r FILE -w /dev/null          (the read floor: libpcap, no analysis)
#   bench/memread.c FILE                  (the physical floor: read(2) through a
#                                          512 KiB buffer, every byte copied once,
#                                          nothing parsed: the memory bandwidth the
#                                          machine gives in that round)
# on the mixed, synscan and long captures in Ethernet and raw-IP form and on
# fixed-eth (one flow: what each tool costs before any traffic), then the
# mixed capture at 0.25x, 0.5x, 1x and 2x (linearity), then bench/footprint.c
# (the embedded default tap). Wall time is taken with date +%s%N, CPU time and
# peak RSS with /usr/bin/time -f '%U %S %M'. Medians of the N runs.
#
#   bench/run.sh [--runs N] [--warmup N] [--cases "mixed-eth long-raw ..."]
#                [--no-tshark] [--no-scaling] [--tunneltap PATH] [--build DIR]
#                [--candidate PATH]
#
# --warmup N (default 1) runs every tool on every case N times first, in the
# same shuffled order, unrecorded: the first run of a binary after a build or
# a reboot pays for loading it and its libraries from disk, which no later
# round does.
#
# --candidate PATH adds a second tunneltap binary (a patched build, say) as
# the tool "candidate", measured in the same rounds as the first.
#
# Results: bench/out/results.csv (every run), bench/out/results.md (tables).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${OUT:-$here/out}
runs=5
warmup=1
cases="mixed-eth mixed-raw synscan-eth synscan-raw long-eth long-raw fixed-eth"
tshark_on=1
scaling=1
build=$root/build
tt=""
cand=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --cases) cases=$2; shift 2 ;;
    --no-tshark) tshark_on=0; shift ;;
    --no-scaling) scaling=0; shift ;;
    --tunneltap) tt=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --candidate) cand=$2; shift 2 ;;
    -h|--help) sed -n '2,/^# Results/p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
tt=${tt:-$build/tunneltap}

missing=()
for t in ndpiReader tcpdump /usr/bin/time cc; do command -v "$t" >/dev/null || missing+=("$t"); done
[ $tshark_on -eq 1 ] && { command -v tshark >/dev/null || missing+=(tshark); }
if [ ${#missing[@]} -gt 0 ]; then
  echo "run.sh: missing ${missing[*]}: apt-get install libndpi-bin tcpdump tshark time build-essential" >&2
  exit 2
fi
if [ ! -x "$tt" ] || [ ! -f "$build/libtunneltap.a" ]; then
  echo "run.sh: no tunneltap build in $build (cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build)" >&2
  exit 2
fi

OUT=$out "$here/make_capture.sh" >/dev/null

# footprint links the static library like an embedding host would.
ring_lib=$(ls "$build"/libtt_ring.a "$build"/ring/libtt_ring.a 2>/dev/null | head -1 || true)
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -I"$root/include" -o "$out/footprint" \
   "$here/footprint.c" "$build/libtunneltap.a" ${ring_lib:+"$ring_lib"} \
   $(pkg-config --libs libndpi libpcap jansson) -lpthread -lm

cc -O2 -std=c11 -Wall -Wextra -o "$out/memread" "$here/memread.c"

packets_of() { awk -F'\t' -v f="$1.pcap" '$1 == f { print $2 }' "$out/captures.tsv"; }

csv=$out/results.csv
echo "case,tool,run,wall_s,user_s,sys_s,maxrss_kb" >"$csv"

# measure CASE TOOL RUN -- command...
measure() {
  local c=$1 tool=$2 run=$3
  shift 4
  local tf t0 t1
  tf=$(mktemp)
  t0=$(date +%s%N)
  if ! /usr/bin/time -f '%U %S %M' -o "$tf" "$@" >/dev/null 2>"$tf.err"; then
    # tunneltap exits 0 whatever the verdict; anything else is a failure to report
    echo "run.sh: $tool failed on $c:" >&2
    tail -3 "$tf.err" >&2
  fi
  t1=$(date +%s%N)
  read -r u s m < <(tail -1 "$tf")
  [ "$run" -gt 0 ] && echo "$c,$tool,$run,$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", (b-a)/1e9}'),$u,$s,$m" >>"$csv"
  rm -f "$tf" "$tf.err"
}

tools_for() {
  local list="tunneltap tunneltap-nodpi tunneltap-firstname ndpiReader tcpdump memread"
  [ -n "$cand" ] && list="$list candidate"
  [ "$2" = full ] && [ $tshark_on -eq 1 ] && list="$list tshark"
  echo "$list"
}

run_tool() {
  local c=$1 tool=$2 run=$3 f=$out/$1.pcap
  case "$tool" in
    tunneltap) measure "$c" "$tool" "$run" -- "$tt" replay "$f" ;;
    tunneltap-nodpi) measure "$c" "$tool" "$run" -- "$tt" replay "$f" --no-dpi ;;
    tunneltap-firstname) measure "$c" "$tool" "$run" -- "$tt" replay "$f" --dpi-first-name ;;
    candidate) measure "$c" "$tool" "$run" -- "$cand" replay "$f" ;;
    ndpiReader) measure "$c" "$tool" "$run" -- ndpiReader -i "$f" -q ;;
    tshark) measure "$c" "$tool" "$run" -- tshark -r "$f" -q -z conv,tcp ;;
    tcpdump) measure "$c" "$tool" "$run" -- tcpdump -r "$f" -w /dev/null ;;
    memread) measure "$c" "$tool" "$run" -- "$out/memread" "$f" ;;
  esac
}

# Bytes for shuf that depend only on $1.
seed() { for i in $(seq 64); do echo "$1 $i" | sha256sum; done; }

# rounds CASES MODE: N rounds, each runs every tool once on every case, in
# an order shuffled for each round and case (fixed by them). A rotated
# order made every tool follow the same neighbour in every round (tunneltap
# always came right after tshark's seconds-long run); bench/logs.sh showed
# what that can do: a job measured 20-40 % slower after one neighbour than
# after another.
rounds() {
  local cs=$1 mode=$2 first=${3:-1}
  for ((r = first; r <= runs; r++)); do
    for c in $cs; do
      for t in $(tools_for "$c" "$mode" | tr ' ' '\n' | shuf --random-source=<(seed "$r$c")); do
        run_tool "$c" "$t" "$r"
      done
    done
    [ "$r" -le 0 ] && { echo "run.sh: warm-up round done ($(date +%T))" >&2; continue; }
    echo "run.sh: round $r/$runs done ($(date +%T), load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  done
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Warm-up rounds are numbered 1 - warmup .. 0: measure() does not record them.
rounds "$cases" full $((1 - warmup))
if [ $scaling -eq 1 ]; then
  rounds "mixed-eth-x0.25 mixed-eth-x0.5 mixed-eth-x1 mixed-eth-x2" scaling $((1 - warmup))
fi

# the embedded footprint: N runs on the mixed captures
fp=$out/footprint.txt
: >"$fp"
for ((r = 1; r <= runs; r++)); do
  for c in mixed-eth mixed-raw; do
    { echo "case=$c run=$r"; "$out/footprint" "$out/$c.pcap"; } >>"$fp"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report ----------------------------------------------------------------
md=$out/results.md
tshark_v=""
[ $tshark_on -eq 1 ] && tshark_v="; $(tshark -v 2>/dev/null | head -1 | sed 's/ (Git.*//')"
{
  echo "# tunneltap benchmark results"
  echo
  echo "Machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
       "$(free -g | awk '/^Mem:/ {print $2}') GiB RAM; load average $load_before before, $load_after after."
  [ -n "$cand" ] && echo "candidate: $cand."
  echo "tunneltap: $tt ($(git -C "$root" describe --always --dirty 2>/dev/null || echo '?'));" \
       "ndpiReader $(ndpiReader -h 2>&1 | sed -n 's/.*nDPI \([0-9.]*\).*/\1/p' | head -1);" \
       "$(tcpdump --version 2>&1 | head -1)$tshark_v."
  echo "Medians of $runs runs (after $warmup unrecorded warm-up round(s)); wall min-max: the"
  echo "fastest and slowest of them. pps = packets / median wall time; CPU = user + sys of all"
  echo "threads (tunneltap replay runs two: the reader and the analyzer)."
  echo "Wall times on a loaded 2-core machine are noisy: CPU time is the steadier measure."
  echo
} >"$md"

summarize() {
  # summarize "CASES" -> one markdown table
  awk -F, -v cases="$1" -v tsv="$out/captures.tsv" '
    function median(arr, n,   i, j, t) {
      for (i = 2; i <= n; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j+1] = arr[j]; arr[j+1] = t }
      return n % 2 ? arr[(n+1)/2] : (arr[n/2] + arr[n/2+1]) / 2
    }
    BEGIN {
      while ((getline line < tsv) > 0) { split(line, f, "\t"); sub(/\.pcap$/, "", f[1]); pk[f[1]] = f[2] }
      nc = split(cases, cl, " ")
    }
    NR > 1 {
      k = $1 SUBSEP $2; n[k]++
      W[k, n[k]] = $4; C[k, n[k]] = $5 + $6; M[k, n[k]] = $7
      if (!(($2) in seen)) { seen[$2] = 1; tl[++nt] = $2 }
    }
    END {
      print "| capture | tool | packets | wall s | wall min-max | Mpps | CPU s | CPU ns/pkt | peak RSS MiB | tunneltap pps ÷ this pps | this CPU ÷ tunneltap CPU | this RSS ÷ tunneltap RSS |"
      print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
      for (ci = 1; ci <= nc; ci++) {
        c = cl[ci]
        for (ti = 1; ti <= nt; ti++) {
          t = tl[ti]; k = c SUBSEP t
          if (!(k in n)) continue
          m = n[k]
          for (i = 1; i <= m; i++) { w[i] = W[k, i]; cc[i] = C[k, i]; r[i] = M[k, i] }
          wm[t] = median(w, m); cm[t] = median(cc, m); rm[t] = median(r, m)
          wlo[t] = w[1]; whi[t] = w[m] # median() sorted w
        }
        for (ti = 1; ti <= nt; ti++) {
          t = tl[ti]; k = c SUBSEP t
          if (!(k in n)) continue
          pps = pk[c] / wm[t]
          ratio = t == "tunneltap" ? "1" : sprintf("%.2f", (pk[c] / wm["tunneltap"]) / pps)
          rr = t == "tunneltap" ? "1" : sprintf("%.1f", rm[t] / rm["tunneltap"])
          cr = t == "tunneltap" ? "1" : sprintf("%.2f", cm[t] / cm["tunneltap"])
          printf "| %s | %s | %d | %.3f | %.3f-%.3f | %.3f | %.2f | %.0f | %.1f | %s | %s | %s |\n", c, t, pk[c], wm[t], wlo[t], whi[t], pps / 1e6, cm[t], cm[t] * 1e9 / pk[c], rm[t] / 1024, ratio, cr, rr
        }
      }
    }' "$csv"
}

{
  echo "## Throughput and peak RSS"
  echo
  summarize "$cases"
  echo
  if [ $scaling -eq 1 ]; then
    echo "## Linearity (mixed, Ethernet)"
    echo
    summarize "mixed-eth-x0.25 mixed-eth-x0.5 mixed-eth-x1 mixed-eth-x2"
    echo
  fi
  echo "## Embedded default tap (bench/footprint.c: defaults, all 4 producers)"
  echo
  awk -F= '
    function median(arr, n,   i, j, t) {
      for (i = 2; i <= n; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j+1] = arr[j]; arr[j+1] = t }
      return n % 2 ? arr[(n+1)/2] : (arr[n/2] + arr[n/2+1]) / 2
    }
    /^case=/ { split($2, a, " "); c = a[1]; if (!(c in n)) order[++nc] = c; n[c]++; next }
    { v[c, $1, n[c]] = $2; keys[$1] = 1 }
    END {
      print "| capture | start RSS MiB | after open MiB | peak RSS MiB | peak - start MiB | heap after open MiB | tt_tap_memsize MiB | budget MiB | flow bytes | flows (every run) | copies out of order (most in a run) | DPI pool empty |"
      print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
      for (i = 1; i <= nc; i++) {
        c = order[i]; m = n[c]
        split("start_rss_kb open_rss_kb peak_rss_kb open_heap_kb", ks, " ")
        for (j = 1; j <= 4; j++) { for (r = 1; r <= m; r++) x[r] = v[c, ks[j], r]; med[ks[j]] = median(x, m) }
        # the four rings are merged by timestamp: the same flows every run
        # unless copies were analysed out of order
        lo = hi = v[c, "flows", 1]; ob = 0; counted = (c, "ts_backwards", 1) in v
        for (r = 1; r <= m; r++) {
          if (v[c, "flows", r] < lo) lo = v[c, "flows", r]
          if (v[c, "flows", r] > hi) hi = v[c, "flows", r]
          if (v[c, "ts_backwards", r] > ob) ob = v[c, "ts_backwards", r]
        }
        if (!counted) ob = "-" # a footprint that did not count them
        printf "| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f | %.0f | %d | %s | %s | %d |\n", c,
          med["start_rss_kb"] / 1024, med["open_rss_kb"] / 1024, med["peak_rss_kb"] / 1024,
          (med["peak_rss_kb"] - med["start_rss_kb"]) / 1024, med["open_heap_kb"] / 1024,
          v[c, "default_memsize_bytes", 1] / 1048576, v[c, "default_budget_bytes", 1] / 1048576,
          v[c, "flow_bytes", 1], lo == hi ? lo : lo "-" hi, ob, v[c, "dpi_pool_empty", 1]
      }
    }' "$fp"
} >>"$md"
cat "$md"
