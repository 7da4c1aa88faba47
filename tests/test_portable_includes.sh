#!/usr/bin/env bash
# test_portable_includes.sh - the embeddable sources (analyze/, ring/) include
# only system headers that Apple's platforms have, once ring/platform.h has
# turned Linux's and glibc's extras off (TT_PORTABLE).
#
# Preprocesses each source as `make test-portable` builds it and checks every
# header a project file includes directly (not those the system's or nDPI's
# headers include in turn) against the list below: C11 headers (not
# <threads.h>, which Apple lacks), the POSIX ones the library may use, and
# nDPI's. <malloc.h>, <endian.h>, <linux/...> and the like fail it. The POSIX
# calls Apple lacks are the other half of the check (tests/portable_gaps.h,
# in the build).
# Env: CC (default cc), TT_CPPFLAGS (the nDPI include flags).
set -uo pipefail
# shellcheck source=lib-check.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib-check.sh"
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CC=${CC:-cc}
allowed=" assert.h ctype.h errno.h float.h inttypes.h limits.h math.h signal.h stdalign.h stdarg.h
 stdatomic.h stdbool.h stddef.h stdint.h stdio.h stdlib.h stdnoreturn.h string.h time.h
 pthread.h unistd.h sched.h strings.h fcntl.h poll.h sys/types.h sys/time.h sys/socket.h
 sys/stat.h sys/mman.h netinet/in.h arpa/inet.h"
allowed=" $(tr -s ' \n' '  ' <<<"$allowed") "

# The #include directives of project files that the preprocessor takes (-dI
# keeps them in its output, after a line marker naming their file, also
# for a header already included), for one source: "<name>" or "\"name\"".
direct_includes() {
    # shellcheck disable=SC2086
    "$CC" -std=c11 -E -dI -DTT_PORTABLE=1 -D_DEFAULT_SOURCE -DTT_BUILDING_LIBRARY \
        -DTT_VERSION='"check"' -I"$src" -I"$src/include" ${TT_CPPFLAGS:-} "$1" |
        awk -v src="$src" '
            function mine(p) {
                return index(p, src "/analyze/") == 1 || index(p, src "/ring/") == 1 ||
                       index(p, src "/include/") == 1
            }
            /^# [0-9]+ "/ { split($0, q, "\""); file = q[2]; next }
            /^#include / { if (mine(file)) print $2 }'
}

err=$(mktemp)
trap 'rm -f "$err"' EXIT
n=0
for f in "$src"/analyze/*.c "$src"/ring/ring.c; do
    n=$((n + 1))
    if ! out=$(direct_includes "$f" 2>"$err"); then
        fail "${f#"$src"/} does not preprocess: $(head -3 "$err")"
        continue
    fi
    while IFS= read -r inc; do
        [ -n "$inc" ] || continue
        name=${inc:1:${#inc}-2}
        case $inc in
        \"analyze/*\" | \"ring/*\" | \"tunneltap/*\") ok ;; # the project's own
        \"ndpi_*.h\" | "<ndpi/"*) ok ;;                      # nDPI's: its portability, not ours
        *)
            if [[ $allowed == *" $name "* ]]; then ok; else
                fail "${f#"$src"/} includes $inc, which Apple's platforms lack or the list does not have"
            fi
            ;;
        esac
    done < <(sort -u <<<"$out")
done
echo "portable_includes: $checks checks over $n sources, $fails failed"
[ "$n" -gt 10 ] || { echo "FAIL: only $n sources found" >&2; exit 1; }
[ "$fails" -eq 0 ]
