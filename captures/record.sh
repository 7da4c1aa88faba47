#!/usr/bin/env bash
# record.sh - re-record the lab captures and their expected counts.
#
#   captures/record.sh [--keep-going] [SCENARIO...]
#
# SCENARIO is a full name (udp-drop-v4, reject-v6, ...) or a base name
# (udp-drop = every family it exists in).  No argument = all of them.
# For each scenario: a fresh lab (lib-lab.sh), real servers, a capture on the
# client's link, ~9 s of workload, a 1 s pause with the "filter upgrade" in
# its middle (marker = `date +%s.%6N` right before `nft -f`), ~11 s of
# workload, drain, stop.  Then the raw-IP form (eth2raw.py), the marker and
# action-log sidecars, and expected/NAME.expect: counts derived from the
# scenario (what was launched x what the filter must do), checked against what
# every client program reported and against tshark's view of both capture
# forms.  Outputs are installed only if every check passes (one retry).
#
# Needs root, iproute2, nftables, dnsmasq, nginx, socat, dig, curl, ping,
# tcpdump, tshark, capinfos, ethtool, python3.  Touches nothing outside the
# ttlab-rec-* namespaces it creates (which have no default route).
set -uo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib-lab.sh
. "$HERE/lib-lab.sh"

ALL_SCENARIOS=(healthy-v4 noisy-healthy-v4 udp-drop-v4 udp-synack-drop-v4 reject-v4
	final-ack-drop-v4 udp-vanish-v4 udp-drop-v6 udp-synack-drop-v6 reject-v6)
declare -A SC_FILTER=([healthy]=none [noisy-healthy]=none [udp-drop]=udp-drop
	[udp-synack-drop]=udp-synack-drop [reject]=reject [final-ack-drop]=final-ack-drop
	[udp-vanish]=udp-vanish)
declare -A SC_LABEL=(
	[healthy]="no-op upgrade"
	[noisy-healthy]="no-op upgrade"
	[udp-drop]="filter upgrade: router drops UDP"
	[udp-synack-drop]="filter upgrade: router drops UDP and TCP SYN-ACK"
	[reject]="filter upgrade: router rejects TCP (reset) and UDP (port unreachable)"
	[final-ack-drop]="filter upgrade: router drops client->server TCP except SYN"
	[udp-vanish]="filter upgrade: client output drops UDP")
# The Makefile's `make run` sample: a byte copy of udp-synack-drop-v4's raw form.
ALIAS_FROM=udp-synack-drop-v4 ALIAS_TO=upgrade-udp-synack-v4

BEFORE_SECS=9 AFTER_SECS=11 DRAIN_SECS=1.5
KEEP_GOING=0

die() { echo "record: ERROR: $*" >&2; exit 1; }
say() { echo "record: $*" >&2; }

need() {
	local t missing=()
	for t in ip nft dnsmasq nginx socat dig curl ping tcpdump tshark capinfos ethtool python3 timeout ss; do
		command -v "$t" >/dev/null 2>&1 || missing+=("$t")
	done
	[ ${#missing[@]} = 0 ] || die "missing tools: ${missing[*]} (scripts/deps.sh --test installs them)"
	[ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"
}

# ------------------------------------------------------------------ cleanup
WORK=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	lab_down >/dev/null 2>&1
	[ -n "$WORK" ] && rm -rf "$WORK"
	exit $rc
}

# ------------------------------------------------------------ one scenario
# record_one NAME  -> files in $WORK/out/, returns non-zero if a check failed
record_one() {
	local name=$1 base fam filter noisy label out="$WORK/out" eth raw log mark
	base=${name%-v[46]} fam=${name##*-v}
	filter=${SC_FILTER[$base]} label=${SC_LABEL[$base]}
	noisy=0
	[ "$base" = noisy-healthy ] && noisy=1
	eth=$out/$name-eth.pcap raw=$out/$name-raw.pcap log=$out/$name.actions
	rm -f "$eth" "$raw" "$log" "$out/$name.marker" "$out/$name.expect"

	say "== $name: filter=$filter family=IPv$fam noisy=$noisy"
	LAB_ID=rec LAB_STATE='' LAB_FAMILY=$fam LAB_NOISY=$noisy LAB_ACTIONS_LOG=$log
	lab_up || return 1
	lab_servers_start || return 1
	lab_wait_ready || return 1
	: >"$log"
	lab_capture_start "$eth" || return 1
	sleep 0.3
	lab_workload "$BEFORE_SECS" before # returns 0.5 s after the last 'before' tick
	sleep 0.5                          # => no action starts in [mark-1.0 s, mark+0.5 s]
	lab_filter_apply "$filter" || return 1
	mark=$LAB_FILTER_MARK
	sleep 0.5
	lab_workload "$AFTER_SECS" after
	lab_workload_wait
	sleep "$DRAIN_SECS"
	lab_capture_stop
	if ! grep -q '^0 packets dropped by kernel' "$LAB_STATE/tcpdump.err"; then
		say "tcpdump lost packets: $(grep dropped "$LAB_STATE/tcpdump.err")"
		return 1
	fi
	lab_filter_clear
	lab_down

	printf '%s %s\n' "$mark" "$label" >"$out/$name.marker"
	python3 "$HERE/eth2raw.py" "$eth" "$raw" >&2 || return 1
	capinfos -E "$raw" | grep -q 'Raw IP' || { say "$raw: capinfos does not see Raw IP"; return 1; }
	# every packet of the raw form must decode as IPv4/IPv6
	local npk ndec
	npk=$(capinfos -cM "$raw" | awk '/Number of packets/ {print $NF}')
	ndec=$(tcpdump -nr "$raw" 2>/dev/null | grep -cE '^[0-9:.]+ (IP|IP6) ')
	[ "$npk" = "$ndec" ] || { say "$raw: tcpdump decodes $ndec of $npk packets as IP"; return 1; }
	python3 - "$name" "$fam" "$filter" "$noisy" "$out/$name.marker" "$log" "$eth" "$raw" \
		"$out/$name.expect" <<'PY'
import collections, subprocess, sys

name, fam, filt, noisy, markerf, logf, ethf, rawf, outf = sys.argv[1:]
noisy = noisy == "1"
mline = open(markerf).read().strip()
mark = float(mline.split()[0])
CLIENT = {"4": "10.77.1.2", "6": "fd77:1::2"}[fam]
PORTS = {"dns": 53, "dns_closed": 5300, "udp_echo": 7777, "http": 80, "http_closed": 81}

# ---- what each action must do: (client program's report, network verdict)
BASE = {
    "dns": ("answered", "answered"), "udp_echo": ("echoed", "echoed"),
    "http": ("ok", "established"), "ping": ("replied", "replied"),
    "dns_closed": ("refused", "icmp_unreachable"), "http_closed": ("refused", "syn_rst"),
}
UDP_DROP = {"dns": ("timeout", "unanswered"), "udp_echo": ("noreply", "unanswered"),
            "dns_closed": ("timeout", "unanswered")}
AFTER = {
    "none": {},
    "udp-drop": UDP_DROP,
    "udp-synack-drop": dict(UDP_DROP, http=("timeout", "syn_unanswered")),
    "reject": {"dns": ("refused", "icmp_unreachable"), "udp_echo": ("refused", "icmp_unreachable"),
               "dns_closed": ("refused", "icmp_unreachable"),
               "http": ("refused", "syn_rst"), "http_closed": ("refused", "syn_rst")},
    "final-ack-drop": {"http": ("timeout_connected", "synack_unacked")},
    # dig does not report the EPERM of a locally dropped datagram: it times out
    "udp-vanish": {"dns": ("timeout", "not_sent"), "udp_echo": ("send_error", "not_sent"),
                   "dns_closed": ("timeout", "not_sent")},
}[filt]
# key prefix and verdict keys for every kind
KIND_KEYS = {
    "dns": ("dns", "queries", ["answered", "unanswered", "icmp_unreachable", "not_sent"]),
    "dns_closed": ("dns_closed", "queries", ["answered", "unanswered", "icmp_unreachable", "not_sent"]),
    "udp_echo": ("udp_echo", "requests", ["echoed", "unanswered", "icmp_unreachable", "not_sent"]),
    "http": ("tcp", "connects", ["established", "syn_unanswered", "syn_rst", "synack_unacked"]),
    "http_closed": ("tcp_closed", "connects", ["established", "syn_unanswered", "syn_rst", "synack_unacked"]),
    "ping": ("icmp", "echo_requests", ["replied"]),
}
PHASES = ("before", "after")

problems = []
keys = []
def put(k, v):
    keys.append((k, v))

# ---- the workload log
acts = []
for line in open(logf):
    f = line.split()
    if len(f) < 6:
        continue
    start, end, _phase, kind, rc, outcome = float(f[0]), float(f[1]), f[2], f[3], f[4], f[5]
    ph = "before" if start < mark else "after"
    if ph != _phase:
        problems.append(f"action logged as {_phase} started on the other side of the marker")
    acts.append((start, end, ph, kind, rc, outcome))
acts.sort()
bef = [a for a in acts if a[2] == "before"]
aft = [a for a in acts if a[2] == "after"]

put("scenario", name)
put("family", "ipv" + fam)
put("filter", filt)
put("filter.namespace", "client" if filt == "udp-vanish" else "router")
put("marker", mline)
put("capture.eth", ethf.rsplit("/", 1)[-1])
put("capture.raw", rawf.rsplit("/", 1)[-1])
put("workload.actions", len(acts))
put("workload.gap_last_before_to_marker", "%.3f" % (mark - max(a[0] for a in bef)))
put("workload.gap_marker_to_first_after", "%.3f" % (min(a[0] for a in aft) - mark))
put("workload.last_action_end", "%.6f" % max(a[1] for a in acts))

expected = {}  # (phase, prefix.verdict) -> n ; scenario-derived
for ph, group in (("before", bef), ("after", aft)):
    kinds = ["dns", "udp_echo", "http", "ping"] + (["dns_closed", "http_closed"] if noisy else [])
    for kind in ["dns", "dns_closed", "udp_echo", "http", "http_closed", "ping"]:
        prefix, launched, verdicts = KIND_KEYS[kind]
        mine = [a for a in group if a[3] == kind]
        if kind not in kinds and mine:
            problems.append(f"{ph}: unexpected {kind} actions")
        pred_prog, pred_net = (AFTER.get(kind, BASE[kind]) if ph == "after" else BASE[kind])
        n = len(mine)
        expected[(ph, f"{prefix}.{launched}")] = n
        for v in verdicts:
            expected[(ph, f"{prefix}.{v}")] = n if v == pred_net else 0
        if kind == "ping":
            expected[(ph, "icmp.echo_replies")] = n if pred_net == "replied" else 0
            del expected[(ph, "icmp.replied")]
        # what the programs reported must be what the scenario implies
        bad = [a for a in mine if a[5] != pred_prog]
        for a in bad:
            problems.append(f"{ph} {kind} at {a[0]:.6f}: program reported {a[5]} (rc {a[4]}), "
                            f"scenario implies {pred_prog}")
    # aggregates over the UDP and TCP kinds
    e = lambda k: expected[(ph, k)]
    expected[(ph, "udp_total.flows")] = e("dns.queries") + e("dns_closed.queries") + e("udp_echo.requests")
    expected[(ph, "udp_total.answered")] = e("dns.answered") + e("dns_closed.answered") + e("udp_echo.echoed")
    for v in ("unanswered", "icmp_unreachable", "not_sent"):
        expected[(ph, f"udp_total.{v}")] = e(f"dns.{v}") + e(f"dns_closed.{v}") + e(f"udp_echo.{v}")
    for v in ("connects", "established", "syn_unanswered", "syn_rst", "synack_unacked"):
        expected[(ph, f"tcp_total.{v}")] = e(f"tcp.{v}") + e(f"tcp_closed.{v}")

for ph in PHASES:
    for (p, k), v in expected.items():
        if p == ph:
            put(f"{ph}.{k}", v)
# raw tallies of what the client programs reported
for ph, group in (("before", bef), ("after", aft)):
    c = collections.Counter((a[3], a[5]) for a in group)
    for (kind, outcome), n in sorted(c.items()):
        put(f"{ph}.prog.{kind}.{outcome}", n)
    c = collections.Counter(a[4] for a in group if a[3] in ("http", "http_closed"))
    for rc, n in sorted(c.items(), key=lambda x: int(x[0])):
        put(f"{ph}.prog.curl.exit{rc}", n)
    c = collections.Counter(a[4] for a in group if a[3] in ("dns", "dns_closed"))
    for rc, n in sorted(c.items(), key=lambda x: int(x[0])):
        put(f"{ph}.prog.dig.exit{rc}", n)

# ---- tshark's view of a capture
FIELDS = ["frame.time_epoch", "frame.protocols", "ip.src", "ipv6.src", "tcp.stream", "tcp.srcport",
          "tcp.dstport", "tcp.flags", "tcp.completeness", "udp.stream", "udp.srcport", "udp.dstport",
          "dns.flags.response", "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code",
          "ip.checksum.status", "tcp.checksum.status", "udp.checksum.status",
          "icmp.checksum.status", "icmpv6.checksum.status"]

def tshark_view(path):
    cmd = ["tshark", "-n", "-2", "-r", path, "-o", "tcp.check_checksum:TRUE",
           "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
           "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    txt = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    st = collections.Counter()
    tcp = {}   # stream -> dict
    udp = {}   # (client port, server port) -> dict
    icmp_err = []  # (phase, inner client port, inner server port)
    first = last = None
    nbad = 0
    for line in txt.splitlines():
        r = dict(zip(FIELDS, line.split("\t")))
        first1 = lambda k: r.get(k, "").split(",")[0]
        t = float(r["frame.time_epoch"])
        first = t if first is None else first
        last = t
        ph = "before" if t < mark else "after"
        protos = r["frame.protocols"].split(":")
        outer = next((p for p in protos if p in ("tcp", "udp", "icmp", "icmpv6", "arp")), "other")
        src = first1("ip.src") or first1("ipv6.src")
        c2s = src == CLIENT
        for k in ("ip.checksum.status", outer + ".checksum.status"):
            if first1(k) == "0":
                nbad += 1
        if outer == "arp":
            st["arp_frames"] += 1
        elif outer == "tcp":
            s = int(first1("tcp.stream"))
            fl = int(first1("tcp.flags"), 16)
            d = tcp.setdefault(s, {"ph": ph, "syn": 0, "synack": 0, "rst": 0, "compl": 0,
                                   "sport": int(first1("tcp.dstport") if c2s else first1("tcp.srcport"))})
            d["compl"] = max(d["compl"], int(first1("tcp.completeness") or 0))
            if fl & 0x02 and not fl & 0x10:
                d["syn"] += 1; st[ph + ".tcp_syn_packets"] += 1
            if fl & 0x12 == 0x12:
                d["synack"] += 1; st[ph + ".tcp_synack_packets"] += 1
            if fl & 0x04:
                d["rst"] += 1; st[ph + ".tcp_rst_packets"] += 1
        elif outer == "udp":
            cp, sp = (first1("udp.srcport"), first1("udp.dstport")) if c2s else \
                     (first1("udp.dstport"), first1("udp.srcport"))
            d = udp.setdefault((int(cp), int(sp)), {"ph": ph, "c2s": 0, "s2c": 0, "icmp": 0})
            d["c2s" if c2s else "s2c"] += 1
            resp = first1("dns.flags.response")
            if resp in ("0", "False"):
                st[ph + ".dns_queries"] += 1
            elif resp in ("1", "True"):
                st[ph + ".dns_responses"] += 1
            if int(sp) == 7777:
                st[ph + (".udp_echo_requests" if c2s else ".udp_echo_replies")] += 1
        elif outer == "icmp" or outer == "icmpv6":
            ty, co = (first1("icmp.type"), first1("icmp.code")) if outer == "icmp" else \
                     (first1("icmpv6.type"), first1("icmpv6.code"))
            ty, co = int(ty), int(co)
            if (outer == "icmp" and ty == 3 and co == 3) or (outer == "icmpv6" and ty == 1 and co == 4):
                st[ph + ".icmp_port_unreachable"] += 1
                # the quoted datagram: client -> server
                icmp_err.append((int(first1("udp.srcport")), int(first1("udp.dstport"))))
            elif (outer == "icmp" and ty == 8) or (outer == "icmpv6" and ty == 128):
                st[ph + ".icmp_echo_requests"] += 1
            elif (outer == "icmp" and ty == 0) or (outer == "icmpv6" and ty == 129):
                st[ph + ".icmp_echo_replies"] += 1
            elif outer == "icmpv6" and 133 <= ty <= 137:
                st["ndp_packets"] += 1
            elif outer == "icmpv6" and ty in (130, 131, 132, 143):
                st["mld_packets"] += 1
            else:
                st[ph + ".icmp_other"] += 1
        else:
            st["other_packets"] += 1
        st["packets"] += 1
    for key in icmp_err:
        if key in udp:
            udp[key]["icmp"] += 1
    for d in tcp.values():
        ph = d["ph"]
        st[ph + ".tcp_streams"] += 1
        st[ph + ".tcp_completeness.%d" % d["compl"]] += 1
        if d["compl"] == 1:
            st[ph + ".tcp_streams_syn_only"] += 1
        if d["synack"] == 0 and d["rst"] > 0:
            st[ph + ".tcp_streams_syn_rst"] += 1
        if d["compl"] & 0x0F == 0x0F:
            st[ph + ".tcp_streams_complete"] += 1
        if d["synack"] > 1:
            st[ph + ".tcp_streams_synack_retransmitted"] += 1
            st[ph + ".tcp_synack_retransmissions"] += d["synack"] - 1
        if d["syn"] > 1:
            st[ph + ".tcp_streams_syn_retransmitted"] += 1
    for d in udp.values():
        ph = d["ph"]
        st[ph + ".udp_streams"] += 1
        if d["s2c"]:
            st[ph + ".udp_streams_answered"] += 1
        elif d["icmp"]:
            st[ph + ".udp_streams_icmp_unreachable"] += 1
        elif d["c2s"]:
            st[ph + ".udp_streams_unanswered"] += 1
    st["bad_checksums"] = nbad
    return st, first, last, max(d["synack"] for d in tcp.values()) if tcp else 0

ts_eth, f_eth, l_eth, maxsa = tshark_view(ethf)
ts_raw, f_raw, l_raw, _ = tshark_view(rawf)
ALWAYS = ["dns_queries", "dns_responses", "udp_echo_requests", "udp_echo_replies",
          "icmp_port_unreachable", "icmp_echo_requests", "icmp_echo_replies", "udp_streams",
          "udp_streams_answered", "udp_streams_unanswered", "udp_streams_icmp_unreachable",
          "tcp_streams", "tcp_streams_syn_only", "tcp_streams_syn_rst", "tcp_streams_complete",
          "tcp_streams_synack_retransmitted", "tcp_streams_syn_retransmitted", "tcp_syn_packets",
          "tcp_synack_packets", "tcp_rst_packets", "tcp_synack_retransmissions"]
def tget(st, k):
    return st.get(k, 0)

put("capture.eth.packets", ts_eth["packets"])
put("capture.raw.packets", ts_raw["packets"])
put("capture.eth.non_ip_frames", ts_eth["arp_frames"] + ts_eth["other_packets"])
put("capture.first_epoch", "%.6f" % f_eth)
put("capture.last_epoch", "%.6f" % l_eth)
put("tshark.bad_checksums", ts_eth["bad_checksums"])
put("tshark.ndp_packets", ts_eth["ndp_packets"])
put("tshark.mld_packets", ts_eth["mld_packets"])
put("tshark.max_synack_per_stream", maxsa)
for ph in PHASES:
    for k in ALWAYS:
        put(f"tshark.{ph}.{k}", tget(ts_eth, f"{ph}.{k}"))
    for k in sorted(x for x in ts_eth if x.startswith(ph + ".tcp_completeness.")):
        put(f"tshark.{k}", ts_eth[k])
    if tget(ts_eth, ph + ".icmp_other"):
        put(f"tshark.{ph}.icmp_other", ts_eth[ph + ".icmp_other"])

# ---- cross-checks: raw form == Ethernet form (less ARP), tshark == scenario
for k in set(ts_eth) | set(ts_raw):
    if k in ("packets", "arp_frames", "other_packets"):
        continue
    if ts_eth.get(k, 0) != ts_raw.get(k, 0):
        problems.append(f"raw vs eth differ on {k}: {ts_raw.get(k, 0)} vs {ts_eth.get(k, 0)}")
if ts_raw["packets"] != ts_eth["packets"] - ts_eth["arp_frames"] - ts_eth["other_packets"]:
    problems.append("raw form lost IP packets")
if ts_eth["bad_checksums"]:
    problems.append(f"{ts_eth['bad_checksums']} bad checksums (offload not disabled?)")
for ph in PHASES:
    e = lambda k: expected[(ph, k)]
    t = lambda k: tget(ts_eth, f"{ph}.{k}")
    sent_dns = e("dns.queries") + e("dns_closed.queries") - e("dns.not_sent") - e("dns_closed.not_sent")
    checks = [
        ("dns_queries", sent_dns),
        ("dns_responses", e("dns.answered") + e("dns_closed.answered")),
        ("udp_echo_requests", e("udp_echo.requests") - e("udp_echo.not_sent")),
        ("udp_echo_replies", e("udp_echo.echoed")),
        ("udp_streams", e("udp_total.flows") - e("udp_total.not_sent")),
        ("udp_streams_answered", e("udp_total.answered")),
        ("udp_streams_unanswered", e("udp_total.unanswered")),
        ("udp_streams_icmp_unreachable", e("udp_total.icmp_unreachable")),
        ("icmp_port_unreachable", e("udp_total.icmp_unreachable")),
        ("icmp_echo_requests", e("icmp.echo_requests")),
        ("icmp_echo_replies", e("icmp.echo_replies")),
        ("tcp_streams", e("tcp_total.connects")),
        ("tcp_streams_syn_only", e("tcp_total.syn_unanswered")),
        ("tcp_streams_syn_rst", e("tcp_total.syn_rst")),
        # seen from the client, the final ACK and the request did leave
        ("tcp_streams_complete", e("tcp_total.established") + e("tcp_total.synack_unacked")),
        ("tcp_streams_synack_retransmitted", e("tcp_total.synack_unacked")),
    ]
    for k, want in checks:
        if t(k) != want:
            problems.append(f"{ph}: tshark {k} = {t(k)}, scenario implies {want}")
put("checks.problems", len(problems))
with open(outf, "w") as f:
    for k, v in keys:
        f.write(f"{k} {v}\n")
for p in problems:
    print("record: CHECK: " + name + ": " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
}

install_outputs() { # NAME
	local name=$1 out="$WORK/out"
	mkdir -p "$HERE/expected"
	cp -f "$out/$name-eth.pcap" "$out/$name-raw.pcap" "$out/$name.marker" "$out/$name.actions" "$HERE/"
	cp -f "$out/$name.expect" "$HERE/expected/"
	if [ "$name" = "$ALIAS_FROM" ]; then
		cp -f "$out/$name-raw.pcap" "$HERE/$ALIAS_TO-raw.pcap"
		cp -f "$out/$name.marker" "$HERE/$ALIAS_TO.marker"
		sed -e "s/^capture\.raw .*/capture.raw $ALIAS_TO-raw.pcap/" \
			-e "s/^scenario .*/&\ncopy_of $name/" \
			"$out/$name.expect" >"$HERE/expected/$ALIAS_TO.expect"
	fi
	say "installed $name ($(stat -c %s "$HERE/$name-eth.pcap") + $(stat -c %s "$HERE/$name-raw.pcap") bytes)"
}

main() {
	local want=() s t found failed=() tries
	while [ $# -gt 0 ]; do
		case $1 in
		--keep-going) KEEP_GOING=1 ;;
		-h | --help) sed -n '2,20p' "$0"; exit 0 ;;
		-*) die "unknown option $1" ;;
		*)
			found=0
			for s in "${ALL_SCENARIOS[@]}"; do
				if [ "$s" = "$1" ] || [ "${s%-v[46]}" = "$1" ]; then want+=("$s"); found=1; fi
			done
			[ $found = 1 ] || die "unknown scenario '$1' (known: ${ALL_SCENARIOS[*]})"
			;;
		esac
		shift
	done
	[ ${#want[@]} -gt 0 ] || want=("${ALL_SCENARIOS[@]}")
	need
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	local d
	for d in /tmp/ttlab-record.??????; do # scratch of a crashed run
		[ -d "$d" ] && rm -rf "$d"
	done
	WORK=$(mktemp -d /tmp/ttlab-record.XXXXXX)
	mkdir -p "$WORK/out"
	# a crashed earlier run may have left its namespaces (and their processes)
	LAB_ID=rec
	lab_init && lab_purge && lab_down
	for s in "${want[@]}"; do
		for tries in 1 2; do
			if record_one "$s"; then
				install_outputs "$s"
				continue 2
			fi
			lab_down >/dev/null 2>&1
			say "$s: attempt $tries failed"
		done
		failed+=("$s")
		[ $KEEP_GOING = 1 ] || die "$s failed twice; previous files left in place"
	done
	[ ${#failed[@]} = 0 ] || die "failed: ${failed[*]}"
	say "done: ${want[*]}"
}

main "$@"
