#!/usr/bin/env bash
# test_hostile.sh - `tunneltap replay` against damaged and hostile captures.
#
# tests/hostile/make_hostile.py builds the files at test time from one real
# capture in captures/ (python3 standard library only). Every case must end
# with the exit status below (2: fatal, 0: not fatal, damage counted instead),
# a message that names the file and the problem, never a crash or a
# sanitizer report (run it against the ASan build too:
# TT_BIN=build-asan/tunneltap bash tests/test_hostile.sh), and when the damage
# is mid-file, the summary of everything read before it: its flow counts must
# equal those of a replay of the undamaged prefix.
#
# Result checks:
#   -       nothing to compare (the file is refused at open)
#   full    flow counts and verdicts equal those of the undamaged capture
#   count   the number of flows equals the undamaged capture's (verdicts may
#           move: the timestamps were damaged)
#   prefix  flow counts and verdicts equal a replay of the records before the
#           damage, and stderr says how many packets the results cover
#   events  the summary counts decoder events (not "decoder events: none")
#   zero    analysed, no flows
#   same    libpcap-version dependent: exit 0 with `full`, or exit 2 with `prefix`
#           (libpcap 1.10.3 refuses a second pcapng interface of LINKTYPE_RAW,
#           comparing it with the DLT_RAW number; later releases read it)
#
# Needs $TT_BIN (the tunneltap binary) and python3; exit 77 (skip) without python3.
set -uo pipefail

BIN=${TT_BIN:?TT_BIN must name the tunneltap binary}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib-check.sh
. "$HERE/lib-check.sh"
SRC=${TT_HOSTILE_SOURCE:-$HERE/../captures/udp-synack-drop-v4-raw.pcap}
command -v python3 >/dev/null 2>&1 || {
    echo "SKIP: python3 not found" >&2
    exit 77
}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tt-hostile.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
H=$TMP/h
python3 "$HERE/hostile/make_hostile.py" "$SRC" "$H" || {
    echo "FAIL: make_hostile.py" >&2
    exit 1
}
AT=$(cat "$H/DAMAGE_AT")      # record number where mid-file damage lands
END=$(($(cat "$H/RECORDS") + 1)) # record number just past the last good one

#  name                                 exit check   the message must contain (after the file name)
CASES=$(
    cat <<EOF
empty.pcap                              2 -      empty file (not a pcap or pcapng capture)
bad_magic.pcap                          2 -      not a pcap or pcapng capture (unknown file format)
text_file.pcap                          2 -      not a pcap or pcapng capture (unknown file format)
short_global_header.pcap                2 -      truncated dump file; tried to read 24 file header bytes
global_header_only.pcap                 0 zero
version_unknown.pcap                    2 -      unsupported pcap savefile version 3.4
snaplen_zero.pcap                       0 full
snaplen_huge.pcap                       0 full
unknown_linktype.pcap                   2 -      link type unknown (147) is not supported (supported: RAW
linktype14.pcap                         0 full
linktype_high_bits.pcap                 2 -      link type unknown (67043429) is not supported (supported: RAW
truncated_record_header.pcap            2 prefix cannot read packet $AT: truncated dump file; tried to read 16 header bytes, only got 9
truncated_record_data.pcap              2 prefix cannot read packet $AT: truncated dump file; tried to read
trailing_garbage.pcap                   2 prefix cannot read packet $END: truncated dump file; tried to read 16 header bytes, only got 7
caplen_huge.pcap                        2 prefix cannot read packet $AT: invalid packet capture length 2147483647
caplen_over_max.pcap                    2 prefix cannot read packet $AT: invalid packet capture length 262145
caplen_zero_length_huge.pcap            2 prefix cannot read packet $AT: invalid packet capture length 4294967295
caplen_over_snaplen.pcap                0 full
caplen_over_wirelen.pcap                0 full
wirelen_huge.pcap                       0 full
zero_length_records.pcap                0 events
only_zero_length_records.pcap           0 events
backwards_timestamps.pcap               0 count
negative_timestamps.pcap                0 full
future_timestamps.pcap                  0 full
usec_overflow.pcap                      0 count
all_timestamps_zero.pcap                0 count
big_endian.pcap                         0 full
nanosecond.pcap                         0 full
garbage_raw.pcap                        0 events
garbage_en10mb.pcap                     0 events
garbage_sll2.pcap                       0 events
garbage_null_short.pcap                 0 events
garbage_ipv4_headers.pcap               0 events
pcapng_good.pcapng                      0 full
pcapng_big_endian.pcapng                0 full
pcapng_blocklen_not_mult4.pcapng        2 prefix cannot read packet $AT: block in pcapng dump file has a length of
pcapng_blocklen_lt12.pcapng             2 prefix cannot read packet $AT: block in pcapng dump file has a length of 8 < 12
pcapng_blocklen_past_eof.pcapng         2 prefix cannot read packet $AT: truncated pcapng dump file
pcapng_blocklen_huge.pcapng             2 prefix cannot read packet $AT: pcapng block size 2147483644 > maximum
pcapng_truncated_mid_block.pcapng       2 prefix cannot read packet $AT: truncated pcapng dump file
pcapng_trailer_mismatch.pcapng          2 prefix cannot read packet $AT: block total length in header and trailer don't match
pcapng_unknown_blocks.pcapng            0 full
pcapng_nrb_isb_dsb.pcapng               0 full
pcapng_simple_packet_blocks.pcapng      0 count
pcapng_second_idb_other_link.pcapng     2 prefix cannot read packet $AT: an interface has a type 1 different from the type of the first interface
pcapng_new_section_other_link.pcapng    2 prefix cannot read packet $AT: an interface has a type 1 different from the type of the first interface
pcapng_second_idb_same_link.pcapng      0 same   cannot read packet $AT: a second interface of the same link type
pcapng_new_section_same_link.pcapng     0 same   cannot read packet $AT: a second interface of the same link type
pcapng_epb_undefined_iface.pcapng       2 prefix cannot read packet $AT: a packet arrived on interface 7, but there's no Interface Description Block
pcapng_epb_caplen_over_block.pcapng     2 prefix cannot read packet $AT: block of type 6 in pcapng dump file is too short
pcapng_bad_byte_order_magic.pcapng      2 -      not a pcap or pcapng capture (unknown file format)
pcapng_version_2.pcapng                 2 -      unsupported pcapng savefile version 2.0
pcapng_no_idb.pcapng                    2 -      the capture file has a packet block before any Interface Description Blocks
pcapng_shb_only.pcapng                  2 -      the capture file has no Interface Description Blocks
pcapng_future_timestamps.pcapng         0 count
pcapng_tsresol_extreme.pcapng           0 count
pcapng_tsoffset_huge.pcapng             0 count
pcapng_tsoffset_negative.pcapng         0 count
pcapng_unknown_linktype.pcapng          2 -      link type unknown (147) is not supported
EOF
)

cases=0

# The lines of a summary that carry flow counts and verdicts.
results() { grep -E '^(flows:|  (TCP|UDP|ICMP|other) )' "$1"; }

# sane NAME STATUS: no crash, no sanitizer report, stderr free of control bytes.
sane() {
    local name=$1 got=$2
    if [ "$got" -ge 126 ]; then fail "$name: crashed (exit $got)"; fi
    if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer' \
        "$TMP/$name.err"; then
        fail "$name: sanitizer report"
        head -30 "$TMP/$name.err" >&2
    fi
    if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$TMP/$name.err"; then
        fail "$name: control characters in the message"
    fi
}

# replay NAME ARGS... : runs `tunneltap replay ARGS`, output in $TMP/NAME.{out,err}, sets $got
replay() {
    local name=$1
    shift
    "$BIN" replay "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
    got=$?
    sane "$name" "$got"
}

same_results() { # NAME REFERENCE_OUT
    if diff <(results "$TMP/$1.out") <(results "$2") >/dev/null; then ok; else
        fail "$1: flows differ from the reference"
        diff <(results "$2") <(results "$TMP/$1.out") | sed 's/^/    /' >&2
    fi
}

check_prefix() { # NAME FILE
    local name=$1 file=$2
    replay "$name.ref" "$file.prefix.pcap"
    same_results "$name" "$TMP/$name.ref.out"
    local n
    n=$(grep -c . <(python3 - "$file.prefix.pcap" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read(); off = 24
while off + 16 <= len(b):
    print(1); off += 16 + struct.unpack('<I', b[off + 8:off + 12])[0]
PY
    ))
    if grep -qF "the results cover the $n packet" "$TMP/$name.err"; then ok; else
        fail "$name: stderr does not say the results cover the $n packets before the damage"
    fi
    if grep -q '^incomplete: ' "$TMP/$name.out"; then ok; else
        fail "$name: the summary does not say it is incomplete"
    fi
}

replay good "$H/good.pcap"
[ "$got" -eq 0 ] && ok || fail "good: exit $got"
GOOD=$TMP/good.out

while read -r name want check msg; do
    [ -n "$name" ] || continue
    cases=$((cases + 1))
    file=$H/$name
    replay "$name" "$file"
    if [ "$check" = same ]; then
        if [ "$got" -eq 0 ]; then
            same_results "$name" "$GOOD"
        elif [ "$got" -eq 2 ]; then
            grep -qF -- "$file: $msg" "$TMP/$name.err" && ok ||
                fail "$name: stderr lacks '$file: $msg'"
            check_prefix "$name" "$file"
        else
            fail "$name: exit $got, want 0 or 2"
        fi
        continue
    fi
    if [ "$got" -ne "$want" ]; then
        fail "$name: exit $got, want $want"
        sed 's/^/    stderr: /' "$TMP/$name.err" | head -5 >&2
        continue
    fi
    ok
    if [ -n "$msg" ]; then
        # the message names the file, then the problem
        if grep -qF -- "tunneltap: replay: $file: $msg" "$TMP/$name.err"; then ok; else
            fail "$name: stderr lacks 'tunneltap: replay: $file: $msg'"
            sed 's/^/    stderr: /' "$TMP/$name.err" | head -5 >&2
        fi
    elif [ -s "$TMP/$name.err" ]; then
        fail "$name: unexpected stderr"
        sed 's/^/    stderr: /' "$TMP/$name.err" | head -5 >&2
    fi
    case $check in
    full) same_results "$name" "$GOOD" ;;
    count)
        if [ "$(grep '^flows:' "$TMP/$name.out" | cut -d' ' -f2)" = \
            "$(grep '^flows:' "$GOOD" | cut -d' ' -f2)" ]; then ok; else
            fail "$name: flow count differs from the undamaged capture's"
        fi
        ;;
    prefix) check_prefix "$name" "$file" ;;
    events)
        if grep -q '; decoder events: ' "$TMP/$name.out" &&
            ! grep -q 'decoder events: none' "$TMP/$name.out"; then ok; else
            fail "$name: no decoder events counted"
        fi
        ;;
    zero)
        grep -q '^verdict: nothing to judge' "$TMP/$name.out" && ok ||
            fail "$name: expected 'verdict: nothing to judge'"
        ;;
    -) ;;
    *) fail "$name: unknown check '$check'" ;;
    esac
done <<<"$CASES"

# ---- streams, devices and paths (built here) ----------------------------------
stream() { # NAME WANT MESSAGE: checks $got and stderr of a case run above
    cases=$((cases + 1))
    if [ "$got" -eq "$2" ]; then ok; else fail "$1: exit $got, want $2"; fi
    if grep -qF -- "$3" "$TMP/$1.err"; then ok; else
        fail "$1: stderr lacks '$3'"
        sed 's/^/    stderr: /' "$TMP/$1.err" | head -5 >&2
    fi
}

# a directory
replay directory "$H"
stream directory 2 "tunneltap: replay: cannot open '$H': Is a directory"
# a path that does not exist
replay missing "$H/no-such.pcap"
stream missing 2 "tunneltap: replay: cannot open '$H/no-such.pcap': No such file or directory"
# a character device that reads empty, and one that reads zeros forever
replay devnull /dev/null
stream devnull 2 "tunneltap: replay: /dev/null: empty input (not a pcap or pcapng capture)"
replay devzero /dev/zero
stream devzero 2 "tunneltap: replay: /dev/zero: not a pcap or pcapng capture (unknown file format)"
# stdin: an empty pipe
"$BIN" replay - </dev/null >"$TMP/stdin_empty.out" 2>"$TMP/stdin_empty.err"
got=$?
sane stdin_empty "$got"
stream stdin_empty 2 "tunneltap: replay: stdin: empty input"
# stdin: a pipe cut mid-record (no size, no seeking)
# shellcheck disable=SC2002
cat "$H/truncated_record_data.pcap" | "$BIN" replay - >"$TMP/stdin_cut.out" 2>"$TMP/stdin_cut.err"
got=$?
sane stdin_cut "$got"
stream stdin_cut 2 "tunneltap: replay: stdin: cannot read packet $AT: truncated dump file"
check_prefix stdin_cut "$H/truncated_record_data.pcap"
# a FIFO whose writer stops mid-record header
mkfifo "$TMP/fifo"
timeout 60 cat "$H/truncated_record_header.pcap" >"$TMP/fifo" & # never left hanging
replay fifo_cut "$TMP/fifo"
wait
stream fifo_cut 2 "tunneltap: replay: $TMP/fifo: cannot read packet $AT: truncated dump file; tried to read 16 header bytes, only got 9"
check_prefix fifo_cut "$H/truncated_record_header.pcap"
# a pcapng stream cut mid-block through stdin
# shellcheck disable=SC2002
cat "$H/pcapng_truncated_mid_block.pcapng" | "$BIN" replay - >"$TMP/stdin_ng.out" 2>"$TMP/stdin_ng.err"
got=$?
sane stdin_ng "$got"
stream stdin_ng 2 "tunneltap: replay: stdin: cannot read packet $AT: truncated pcapng dump file"
check_prefix stdin_ng "$H/pcapng_truncated_mid_block.pcapng"
# a filter on a link type libpcap's filter compiler does not know
replay bpf_linktype14 "$H/linktype14.pcap" --bpf tcp
stream bpf_linktype14 2 "tunneltap: replay: $H/linktype14.pcap: cannot filter link type 14"
# a file we may not read (meaningless as root, who may read anything)
if [ "$(id -u)" -ne 0 ]; then
    cp "$H/good.pcap" "$TMP/secret.pcap" && chmod 000 "$TMP/secret.pcap"
    replay unreadable "$TMP/secret.pcap"
    stream unreadable 2 "tunneltap: replay: cannot open '$TMP/secret.pcap': Permission denied"
fi

echo "test_hostile: $cases cases, $checks checks, $fails failed ($BIN)"
[ "$cases" -ge 30 ] || {
    echo "FAIL: fewer than 30 cases ran" >&2
    exit 1
}
[ "$fails" -eq 0 ]
