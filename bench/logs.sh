#!/usr/bin/env bash
# logs.sh - what the conn.log and JSON outputs cost: replay with and without them.
#
# Runs, round-robin (the order shuffled each round) N times on each capture:
#   tunneltap replay FILE                          (summary only: the default job)
#   tunneltap replay FILE --conn-log OUT           (Zeek conn.log, sorted by ts)
#   tunneltap replay FILE --json OUT               (JSON lines, sorted by ts)
#   tunneltap replay FILE --conn-log OUT --json OUT2
#                                                  (past 64 MiB of records, spilled
#                                                  to $TMPDIR in sorted runs)
#   tunneltap replay FILE --sort-buffer 2047M --conn-log OUT --json OUT2
#                                                  (every record kept in memory)
#   tunneltap replay FILE --stream-logs --conn-log OUT --json OUT2
#                                                  (written as connections finish)
#   tcpdump -r FILE -w /dev/null                   (the read floor)
# and, with --candidate PATH, the first four tunneltap jobs again with that
# binary (tools named cand-*). Outputs go to files under bench/out/logs-tmp (removed
# after each run): a log is written to disk, as a user's would be. Wall time
# from date +%s%N, CPU and peak RSS from /usr/bin/time -f '%U %S %M'.
#
#   bench/logs.sh [--runs N] [--cases "synscan-eth mixed-eth"] [--tunneltap PATH]
#                 [--candidate PATH]
#
# Results: bench/out/logs.csv (every run), bench/out/logs.md (medians).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${OUT:-$here/out}
runs=5
cases="synscan-eth mixed-eth"
tt=$root/build/tunneltap
cand=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --cases) cases=$2; shift 2 ;;
    --tunneltap) tt=$2; shift 2 ;;
    --candidate) cand=$2; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "logs.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
for t in tcpdump /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "logs.sh: missing $t: apt-get install tcpdump time" >&2; exit 2; }
done
[ -x "$tt" ] || { echo "logs.sh: no tunneltap at $tt (cmake --build build)" >&2; exit 2; }
OUT=$out "$here/make_capture.sh" >/dev/null

tmp=$out/logs-tmp
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
csv=$out/logs.csv
echo "case,tool,run,wall_s,user_s,sys_s,maxrss_kb,out_bytes" >"$csv"

measure() {
  local c=$1 tool=$2 run=$3
  shift 4
  local tf=$tmp/time t0 t1
  # The previous run's hundreds of MB of log may still be going to disk:
  # written out first, so that no run pays for another's.
  sync
  t0=$(date +%s%N)
  if ! /usr/bin/time -f '%U %S %M' -o "$tf" "$@" >/dev/null 2>"$tf.err"; then
    echo "logs.sh: $tool failed on $c:" >&2
    tail -3 "$tf.err" >&2
    exit 1
  fi
  t1=$(date +%s%N)
  local bytes
  bytes=$( (cat "$tmp"/out.* 2>/dev/null || true) | wc -c)
  read -r u s m < <(tail -1 "$tf")
  echo "$c,$tool,$run,$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", (b-a)/1e9}'),$u,$s,$m,$bytes" >>"$csv"
  rm -f "$tmp"/out.*
}

run_tool() {
  local c=$1 tool=$2 run=$3 f=$out/$1.pcap bin=$tt
  case "$tool" in cand-*) bin=$cand ;; esac
  case "$tool" in
    tcpdump) measure "$c" "$tool" "$run" -- tcpdump -r "$f" -w /dev/null ;;
    *summary) measure "$c" "$tool" "$run" -- "$bin" replay "$f" ;;
    *conn-log) measure "$c" "$tool" "$run" -- "$bin" replay "$f" --conn-log "$tmp/out.log" ;;
    *json) measure "$c" "$tool" "$run" -- "$bin" replay "$f" --json "$tmp/out.json" ;;
    *both) measure "$c" "$tool" "$run" -- "$bin" replay "$f" --conn-log "$tmp/out.log" \
      --json "$tmp/out.json" ;;
    kept) measure "$c" "$tool" "$run" -- "$bin" replay "$f" --sort-buffer 2047M \
      --conn-log "$tmp/out.log" --json "$tmp/out.json" ;;
    stream) measure "$c" "$tool" "$run" -- "$bin" replay "$f" --stream-logs \
      --conn-log "$tmp/out.log" --json "$tmp/out.json" ;;
  esac
}

tools="summary conn-log json both kept stream tcpdump"
[ -n "$cand" ] && tools="$tools cand-summary cand-conn-log cand-json cand-both"
# Bytes for shuf that depend only on $1.
seed() { for i in $(seq 64); do echo "$1 $i" | sha256sum; done; }

# Each round runs the tools in a shuffled order (fixed by the round's
# number): rotating one order made every tool follow the same neighbour in
# every round, and the summary-only job, always right after the candidate's
# 7-s run with both logs, measured 20-40 % slower than the same job after
# tcpdump.
for ((r = 1; r <= runs; r++)); do
  for c in $cases; do
    for t in $(tr ' ' '\n' <<<"$tools" | shuf --random-source=<(seed "$r$c")); do
      run_tool "$c" "$t" "$r"
    done
  done
  echo "logs.sh: round $r/$runs done ($(date +%T), load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
done

# medians per case and tool
md=$out/logs.md
{
  echo "bench/logs.sh --runs $runs ($(date -u +%F), $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?'))"
  echo
  echo "| case | tool | wall s | CPU s | peak RSS MiB | output MB | wall / summary |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  awk -F, -v cases="$cases" -v tools="$tools" '
    NR > 1 { k = $1 "," $2; w[k] = w[k] " " $4; u[k] = u[k] " " ($5 + $6); m[k] = m[k] " " $7; b[k] = $8 }
    function med(s,   a, c, i, j, t) {
      c = split(s, a, " ")
      for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return a[int((c + 1) / 2)]
    }
    END {
      nc = split(cases, cs, " "); nt = split(tools, ts, " ")
      for (i = 1; i <= nc; i++) {
        base = med(w[cs[i] ",summary"])
        for (j = 1; j <= nt; j++) {
          k = cs[i] "," ts[j]
          if (!(k in w)) continue
          printf "| %s | %s | %.3f | %.2f | %.1f | %.1f | %.2f |\n", cs[i], ts[j], med(w[k]), med(u[k]),
                 med(m[k]) / 1024, b[k] / 1e6, med(w[k]) / base
        }
      }
    }' "$csv"
} >"$md"
cat "$md"
