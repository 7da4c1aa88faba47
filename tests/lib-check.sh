# lib-check.sh - what the shell tests share: skipping, counting checks, stopping a process.
#
# Source it near the top of a test (it sets checks=0 fails=0). A test ends
# with its own tally line and `[ "$fails" -eq 0 ]`.
# shellcheck shell=bash

checks=0 fails=0

# skip WHY: the test cannot run here (ctest counts exit 77 as skipped).
skip() {
    echo "SKIP: $*" >&2
    exit 77
}

ok() { checks=$((checks + 1)); }
fail() {
    checks=$((checks + 1)) fails=$((fails + 1))
    echo "FAIL: $*" >&2
}

# check DESCRIPTION COMMAND...: one check, passed when COMMAND succeeds.
check() {
    local what=$1
    shift
    if "$@"; then ok; else fail "$what"; fi
}

# stop_pid PID: SIGTERM, up to 2 s to exit, then SIGKILL; reaps it. PID must
# be a child of this shell. Nothing happens for an empty PID.
stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
