#!/usr/bin/env bash
# test_ring_model.sh - model-checks the ring's sleep and wake-up protocol
# (tests/ring_wake.pml) with spin: the ring as built (membarrier fences) and
# with TT_RING_SYMMETRIC_FENCE, closed by the producer, kicked or closed by
# a third thread, must have no lost wake-up and no lost record in any
# interleaving; five broken variants must each be caught, or the check
# proves nothing. Needs spin and a C compiler (exit 77 without spin); ~45 s,
# up to 1.2 GB.
set -euo pipefail
MODEL="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/ring_wake.pml"
command -v spin >/dev/null 2>&1 || {
    echo "SKIP: spin is not installed (apt-get install spin)"
    exit 77
}
CC=${CC:-cc}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tt-ringmodel.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
failed=0

# check NAME WANT(0: no error | 1: an error) [spin -D options...]
check() {
    local name=$1 want=$2
    shift 2
    local d="$TMP/$name"
    mkdir -p "$d"
    cp "$MODEL" "$d/"
    if ! (cd "$d" && spin -a "$@" ring_wake.pml >spin.out 2>&1 &&
        "$CC" -O2 -DSAFETY -w -o pan pan.c >cc.out 2>&1); then
        echo "FAIL: $name: could not build the verifier"
        cat "$d"/spin.out "$d"/cc.out 2>/dev/null | sed 's/^/    | /'
        failed=1
        return
    fi
    (cd "$d" && ./pan -m2000000 >pan.out 2>&1) || true
    local errors states
    errors=$(grep -o 'errors: [0-9]*' "$d/pan.out" | awk '{print $2}')
    states=$(grep -o '[0-9]* states, stored' "$d/pan.out" | awk '{print $1}')
    if [ -z "$errors" ]; then
        echo "FAIL: $name: pan did not report"
        sed 's/^/    | /' "$d/pan.out" | tail -20
        failed=1
    elif [ "$want" -eq 0 ] && [ "$errors" -ne 0 ]; then
        echo "FAIL: $name: $errors error(s) in $states states; the run that fails:"
        (cd "$d" && spin -t -p "$@" ring_wake.pml 2>&1 | tail -30 | sed 's/^/    | /')
        failed=1
    elif [ "$want" -eq 0 ] && grep -q 'Search not completed' "$d/pan.out"; then
        echo "FAIL: $name: the search did not complete (depth limit)"
        failed=1
    elif [ "$want" -eq 1 ] && [ "$errors" -eq 0 ]; then
        echo "FAIL: $name: a broken variant passed ($states states): the model no longer checks it"
        failed=1
    elif [ "$want" -eq 0 ]; then
        echo "ok: $name: no error in $states states"
    else
        local what
        what=$(grep -m1 -o 'assertion violated[^(]*([^)]*)\|invalid end state' "$d/pan.out" || true)
        echo "ok: $name: caught, as it must be (${what:-an error}, $states states)"
    fi
}

check membarrier 0
check symmetric-fences 0 -DSYMMETRIC
check kick 0 -DKICK -DN=3 -DCAP=2
check kick-symmetric-fences 0 -DKICK -DN=3 -DCAP=2 -DSYMMETRIC
check close-from-a-third-thread 0 -DCLOSER -DN=3 -DCAP=2
check close-from-a-third-thread-symmetric 0 -DCLOSER -DN=3 -DCAP=2 -DSYMMETRIC
check no-consumer-fence 1 -DBROKEN_CS2
check no-producer-fence 1 -DBROKEN_PS2
check closed-without-second-look 1 -DOLD_CLOSE
check kick-not-taken-at-cs3 1 -DKICK -DN=3 -DCAP=2 -DBROKEN_KICK
check producer-blind-to-close 1 -DCLOSER -DN=3 -DCAP=2 -DBROKEN_PCLOSE
[ "$failed" -eq 0 ] && echo "ring model: all checks passed"
exit "$failed"
