#!/usr/bin/env bash
# rss_sample.sh - samples a process's resident memory until it exits.
#
#   bench/rss_sample.sh PID [INTERVAL_S] [COUNT]     (defaults 10 s, until PID exits)
#
# One line per sample on stdout: seconds since the first sample, VmRSS and
# VmHWM (peak) in kB, from /proc/PID/status. Stops when the process is gone,
# after COUNT samples, or at SIGINT/SIGTERM. bench/soak.sh samples the same
# way itself; this is for watching any running `tunneltap bridge` or
# `capture` by hand, e.g.
#
#   bench/rss_sample.sh "$(pgrep -o -x tunneltap)" 10 | tee rss.txt
set -u
PID=${1:?usage: rss_sample.sh PID [INTERVAL_S] [COUNT]}
IVL=${2:-10}
COUNT=${3:-0}
[ -r "/proc/$PID/status" ] || { echo "rss_sample: no process $PID" >&2; exit 2; }
trap 'exit 0' INT TERM
start=$(date +%s.%N)
n=0
echo "# t_s rss_kB hwm_kB (pid $PID: $(tr '\0' ' ' <"/proc/$PID/cmdline" | cut -c1-80))"
while :; do
    line=$(awk '/^VmRSS:/ {r = $2} /^VmHWM:/ {h = $2} END {if (r != "") print r, h}' \
        "/proc/$PID/status" 2>/dev/null) || break
    [ -n "$line" ] || break
    now=$(date +%s.%N)
    echo "$(awk -v a="$start" -v b="$now" 'BEGIN {printf "%.1f", b - a}') $line"
    n=$((n + 1))
    [ "$COUNT" -gt 0 ] && [ "$n" -ge "$COUNT" ] && break
    # sleep to the next multiple of IVL from the start (no drift)
    sleep "$(awk -v a="$start" -v n="$n" -v i="$IVL" -v t="$(date +%s.%N)" \
        'BEGIN {d = a + n * i - t; if (d < 0) d = 0; printf "%.3f", d}')"
done
