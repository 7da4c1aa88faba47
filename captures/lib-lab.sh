# shellcheck shell=bash
# lib-lab.sh - a three-namespace lab (client - router - server) for tunneltap.
#
# Source this file from bash (it sets no shell options of its own), then:
#
#   lab_up                    purge stale namespaces of this LAB_ID, build the lab
#   lab_servers_start         dnsmasq :53, nginx :80, UDP echo :7777 in the server
#   lab_capture_start FILE    tcpdump on the client's link, inside the client
#   lab_workload SECONDS      paced client workload, one log line per action
#   lab_filter_apply NAME     apply a "filter upgrade" (nft table) - see lab_filter_names
#   lab_filter_clear          remove any filter table again
#   lab_capture_stop          SIGINT tcpdump and wait for it
#   lab_wait_line FILE PAT [PID]  up to 5 s for PAT in a starting program's stderr
#   lab_servers_stop          stop the servers by PID
#   lab_down                  stop everything started here, delete the namespaces
#
# Everything is addressed inside the namespaces created here; none of them has a
# default route, so no packet can leave the lab.  Every process started is
# tracked by PID and stopped by PID; namespaces are removed by name.
#
# Swapping the client<->router link (e.g. for two TUN devices bridged by a
# user-space program): the link is made by lab_link_cr alone.  Either redefine
# lab_link_cr after sourcing this file, or run `LAB_CR_LINK=none lab_up`, then
# move your two devices into "$LAB_NS_CLI" / "$LAB_NS_RTR" and call
#   lab_link_cr_config CLIENT_DEV ROUTER_DEV
# which brings them up with the lab's addresses and adds the client's routes.
# (For a TUN device the same /24 and /64 with a `via` gateway works: the kernel
# does no ARP/ND on a NOARP point-to-point device.)
#
# Tunables (environment, read when lab_init runs - lab_up calls it):
#   LAB_ID        namespace names are ttlab-$LAB_ID-{cli,rtr,srv}  (default: lab)
#   LAB_CR_LINK   veth (default) | none
#   LAB_VERBOSE   1 = echo each lab step to stderr
#   LAB_STATE     scratch dir to use (default: a fresh /tmp/ttlab-$LAB_ID.XXXXXX,
#                 removed by lab_down unless LAB_KEEP_STATE=1)

# ---------------------------------------------------------------- constants
LAB_V4_CLI=10.77.1.2 LAB_V4_RTR_C=10.77.1.1 LAB_V4_RTR_S=10.77.2.1 LAB_V4_SRV=10.77.2.2
LAB_V4_NET_C=10.77.1.0/24 LAB_V4_NET_S=10.77.2.0/24
LAB_V6_CLI=fd77:1::2 LAB_V6_RTR_C=fd77:1::1 LAB_V6_RTR_S=fd77:2::1 LAB_V6_SRV=fd77:2::2
LAB_V6_NET_C=fd77:1::/64 LAB_V6_NET_S=fd77:2::/64
LAB_PORT_DNS=53 LAB_PORT_HTTP=80 LAB_PORT_ECHO=7777
LAB_PORT_DNS_CLOSED=5300 LAB_PORT_HTTP_CLOSED=81   # nothing listens there
LAB_DNS_NAMES=(svc.lab www.lab api.lab)
LAB_FILTER_TABLE=ttlab_upgrade                      # nft table: inet ttlab_upgrade

lab_log() { [ "${LAB_VERBOSE:-0}" = 1 ] && echo "lab: $*" >&2; return 0; }
lab_die() { echo "lab: ERROR: $*" >&2; return 1; }

# lab_wait_line FILE PATTERN [PID]: waits up to 5 s for a line matching
# PATTERN in FILE (a starting program's stderr); gives up at once when PID,
# the program writing FILE, has exited. Returns 0 when the line was seen.
lab_wait_line() {
	local file=$1 pat=$2 pid=${3:-} i
	for i in $(seq 1 100); do
		grep -q -- "$pat" "$file" 2>/dev/null && return 0
		[ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	return 1
}

lab_init() {
	LAB_ID=${LAB_ID:-lab}
	LAB_NS_CLI=ttlab-$LAB_ID-cli
	LAB_NS_RTR=ttlab-$LAB_ID-rtr
	LAB_NS_SRV=ttlab-$LAB_ID-srv
	# interface names (each lives in its own namespace)
	LAB_IF_C=${LAB_IF_C:-veth-c}   # client side of client<->router (capture point)
	LAB_IF_RC=${LAB_IF_RC:-veth-rc} # router side of client<->router
	LAB_IF_RS=veth-rs               # router side of router<->server
	LAB_IF_S=veth-s                 # server side of router<->server
	# scratch dir (configs, logs); removed by lab_down if lab_init made it
	if [ -z "${LAB_STATE:-}" ] || [ ! -d "$LAB_STATE" ]; then
		LAB_STATE=$(mktemp -d "/tmp/ttlab-$LAB_ID.XXXXXX") || return 1
		LAB_STATE_OWNED=1
	fi
	LAB_PIDS_SERVERS=() # "name:pid"
	LAB_UDP_SEQ=0       # UDP source ports restart at LAB_UDP_PORT_BASE+1
	LAB_PID_TCPDUMP=
}

lab_nsexec() { # NS CMD...
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# ------------------------------------------------------------ teardown/purge
# Kill (by PID) every process still inside one namespace, then delete it.
lab_ns_destroy() { # NS
	local ns=$1 pids p i
	ip netns list | awk '{print $1}' | grep -qx -- "$ns" || return 0
	for i in 1 2 3 4 5 6 7 8 9 10; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -z "$pids" ] && break
		for p in $pids; do
			if [ "$i" -lt 6 ]; then kill -TERM "$p" 2>/dev/null; else kill -KILL "$p" 2>/dev/null; fi
		done
		sleep 0.2
	done
	ip netns delete "$ns" 2>/dev/null || lab_die "could not delete netns $ns"
}

# Remove the namespaces of this LAB_ID (left over by a crashed run).
lab_purge() {
	local ns
	for ns in $(ip netns list | awk '{print $1}' | grep -E "^ttlab-${LAB_ID}-(cli|rtr|srv)$"); do
		lab_log "purging stale namespace $ns"
		lab_ns_destroy "$ns"
	done
	# scratch dirs of crashed runs of this LAB_ID (not ours)
	local d
	for d in /tmp/ttlab-"$LAB_ID".??????; do
		[ -d "$d" ] && [ "$d" != "${LAB_STATE:-}" ] && rm -rf "$d"
	done
	return 0
}

# Remove every ttlab-* namespace on this machine (any LAB_ID).
lab_purge_all() {
	local ns
	for ns in $(ip netns list | awk '{print $1}' | grep -E '^ttlab-'); do
		lab_log "purging namespace $ns"
		lab_ns_destroy "$ns"
	done
}

# ------------------------------------------------------------------ bring-up
lab_sysctls() { # NS
	local ns=$1
	lab_nsexec "$ns" sysctl -qw \
		net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 \
		net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.dad_transmits=0 net.ipv6.conf.default.dad_transmits=0 \
		net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0 \
		net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
		net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 >/dev/null
}

lab_ns_create() {
	local ns
	for ns in "$LAB_NS_CLI" "$LAB_NS_RTR" "$LAB_NS_SRV"; do
		ip netns add "$ns" || return 1
		lab_nsexec "$ns" ip link set lo up
		lab_sysctls "$ns"
	done
	lab_nsexec "$LAB_NS_RTR" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null
}

# Per-device settings: no DAD, no RS, valid checksums on the wire (no offload).
lab_dev_prepare() { # NS DEV
	local ns=$1 dev=$2
	lab_nsexec "$ns" sysctl -qw "net.ipv6.conf.$dev.accept_dad=0" "net.ipv6.conf.$dev.dad_transmits=0" \
		"net.ipv6.conf.$dev.router_solicitations=0" "net.ipv6.conf.$dev.accept_ra=0" >/dev/null 2>&1
	# tx/rx checksum offload off so captured checksums are the real ones; the
	# segmentation offloads off so the capture sees wire-sized packets.
	lab_nsexec "$ns" ethtool -K "$dev" tx off rx off >/dev/null 2>&1 ||
		lab_log "ethtool -K $dev tx off rx off failed (device type without offloads?)"
	lab_nsexec "$ns" ethtool -K "$dev" tso off gso off gro off >/dev/null 2>&1
	return 0
}

# Addresses + client routes on an existing client<->router link (veth or TUN).
lab_link_cr_config() { # CLIENT_DEV ROUTER_DEV
	local c=$1 r=$2
	LAB_IF_C=$c LAB_IF_RC=$r
	lab_dev_prepare "$LAB_NS_CLI" "$c"
	lab_dev_prepare "$LAB_NS_RTR" "$r"
	lab_nsexec "$LAB_NS_CLI" ip addr add "$LAB_V4_CLI/24" dev "$c" || return 1
	lab_nsexec "$LAB_NS_CLI" ip -6 addr add "$LAB_V6_CLI/64" dev "$c" nodad || return 1
	lab_nsexec "$LAB_NS_RTR" ip addr add "$LAB_V4_RTR_C/24" dev "$r" || return 1
	lab_nsexec "$LAB_NS_RTR" ip -6 addr add "$LAB_V6_RTR_C/64" dev "$r" nodad || return 1
	lab_nsexec "$LAB_NS_CLI" ip link set "$c" up || return 1
	lab_nsexec "$LAB_NS_RTR" ip link set "$r" up || return 1
	# only the server net, never a default route
	lab_nsexec "$LAB_NS_CLI" ip route add "$LAB_V4_NET_S" via "$LAB_V4_RTR_C" dev "$c" || return 1
	lab_nsexec "$LAB_NS_CLI" ip -6 route add "$LAB_V6_NET_S" via "$LAB_V6_RTR_C" dev "$c" || return 1
}

# The client<->router link.  The only place that knows it is a veth pair.
lab_link_cr() {
	ip -n "$LAB_NS_CLI" link add "$LAB_IF_C" type veth peer name "$LAB_IF_RC" netns "$LAB_NS_RTR" || return 1
	lab_link_cr_config "$LAB_IF_C" "$LAB_IF_RC"
}

lab_link_rs() {
	ip -n "$LAB_NS_RTR" link add "$LAB_IF_RS" type veth peer name "$LAB_IF_S" netns "$LAB_NS_SRV" || return 1
	lab_dev_prepare "$LAB_NS_RTR" "$LAB_IF_RS"
	lab_dev_prepare "$LAB_NS_SRV" "$LAB_IF_S"
	lab_nsexec "$LAB_NS_RTR" ip addr add "$LAB_V4_RTR_S/24" dev "$LAB_IF_RS" || return 1
	lab_nsexec "$LAB_NS_RTR" ip -6 addr add "$LAB_V6_RTR_S/64" dev "$LAB_IF_RS" nodad || return 1
	lab_nsexec "$LAB_NS_SRV" ip addr add "$LAB_V4_SRV/24" dev "$LAB_IF_S" || return 1
	lab_nsexec "$LAB_NS_SRV" ip -6 addr add "$LAB_V6_SRV/64" dev "$LAB_IF_S" nodad || return 1
	lab_nsexec "$LAB_NS_RTR" ip link set "$LAB_IF_RS" up || return 1
	lab_nsexec "$LAB_NS_SRV" ip link set "$LAB_IF_S" up || return 1
	lab_nsexec "$LAB_NS_SRV" ip route add "$LAB_V4_NET_C" via "$LAB_V4_RTR_S" dev "$LAB_IF_S" || return 1
	lab_nsexec "$LAB_NS_SRV" ip -6 route add "$LAB_V6_NET_C" via "$LAB_V6_RTR_S" dev "$LAB_IF_S" || return 1
}

# Refuse to run with anything that could route out of the lab.
lab_check_isolated() {
	local ns
	for ns in "$LAB_NS_CLI" "$LAB_NS_RTR" "$LAB_NS_SRV"; do
		if lab_nsexec "$ns" ip route show default | grep -q . ||
			lab_nsexec "$ns" ip -6 route show default | grep -q .; then
			lab_die "namespace $ns has a default route"
			return 1
		fi
	done
}

lab_up() {
	lab_init || return 1
	lab_purge
	lab_log "creating $LAB_NS_CLI $LAB_NS_RTR $LAB_NS_SRV"
	lab_ns_create || { lab_down; return 1; }
	if [ "${LAB_CR_LINK:-veth}" != none ]; then
		lab_link_cr || { lab_down; return 1; }
	fi
	lab_link_rs || { lab_down; return 1; }
	lab_check_isolated || { lab_down; return 1; }
	return 0
}

# Wait (bounded) until the client reaches the server over v4 and v6; this also
# fills the neighbour caches, so do it before a capture starts if ARP/ND noise
# is unwanted.
lab_wait_ready() {
	local i
	for i in $(seq 1 30); do
		lab_nsexec "$LAB_NS_CLI" ping -c1 -W1 -q "$LAB_V4_SRV" >/dev/null 2>&1 &&
			lab_nsexec "$LAB_NS_CLI" ping -6 -c1 -W1 -q "$LAB_V6_SRV" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	lab_die "lab not reachable after 30 tries"
}

# ------------------------------------------------------------------- servers
_lab_bg() { # NAME NS CMD... ; starts in background, remembers the PID
	local name=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$@" >"$LAB_STATE/$name.out" 2>&1 </dev/null &
	LAB_PIDS_SERVERS+=("$name:$!")
	lab_log "started $name pid $!"
}

_lab_wait_listen() { # PROTO(t|u) PORT ; bounded wait for a listening socket in the server
	local proto=$1 port=$2 i
	for i in $(seq 1 50); do
		lab_nsexec "$LAB_NS_SRV" ss -Hln"$proto" "sport = :$port" | grep -q . && return 0
		sleep 0.1
	done
	lab_die "nothing listening on $proto/$port in $LAB_NS_SRV"
}

lab_servers_start() {
	local d=$LAB_STATE/www n
	mkdir -p "$d" "$LAB_STATE/nginx-tmp"
	chmod 755 "$LAB_STATE" "$d"
	printf '<html><body><p>tunneltap lab: hello</p></body></html>\n' >"$d/index.html"
	chmod 644 "$d/index.html"
	# nginx: private config, foreground master, PID tracked by us.
	cat >"$LAB_STATE/nginx.conf" <<-EOF
		daemon off;
		worker_processes 1;
		pid $LAB_STATE/nginx.pid;
		error_log $LAB_STATE/nginx-error.log warn;
		events { worker_connections 256; }
		http {
		    access_log $LAB_STATE/nginx-access.log;
		    client_body_temp_path $LAB_STATE/nginx-tmp/body;
		    proxy_temp_path $LAB_STATE/nginx-tmp/proxy;
		    fastcgi_temp_path $LAB_STATE/nginx-tmp/fastcgi;
		    uwsgi_temp_path $LAB_STATE/nginx-tmp/uwsgi;
		    scgi_temp_path $LAB_STATE/nginx-tmp/scgi;
		    default_type text/html;
		    server_tokens off;
		    server {
		        listen $LAB_V4_SRV:$LAB_PORT_HTTP;
		        listen [$LAB_V6_SRV]:$LAB_PORT_HTTP;
		        root $d;
		    }
		}
	EOF
	_lab_bg nginx "$LAB_NS_SRV" nginx -e stderr -p "$LAB_STATE" -c "$LAB_STATE/nginx.conf"
	# dnsmasq: authoritative-style local answers only, no upstream, no DHCP.
	local addr=()
	for n in "${LAB_DNS_NAMES[@]}"; do
		addr+=("--address=/$n/$LAB_V4_SRV" "--address=/$n/$LAB_V6_SRV")
	done
	_lab_bg dnsmasq "$LAB_NS_SRV" dnsmasq --keep-in-foreground --conf-file=/dev/null \
		--no-resolv --no-hosts --no-poll --bind-interfaces \
		--listen-address="$LAB_V4_SRV" --listen-address="$LAB_V6_SRV" --port="$LAB_PORT_DNS" \
		--pid-file= --log-facility=- --log-queries "${addr[@]}"
	# UDP echo: every datagram answered by a forked child (one per datagram).
	_lab_bg echo4 "$LAB_NS_SRV" socat -T1 "UDP4-RECVFROM:$LAB_PORT_ECHO,bind=$LAB_V4_SRV,fork" EXEC:cat
	_lab_bg echo6 "$LAB_NS_SRV" socat -T1 "UDP6-RECVFROM:$LAB_PORT_ECHO,bind=[$LAB_V6_SRV],fork" EXEC:cat
	_lab_wait_listen t "$LAB_PORT_HTTP" && _lab_wait_listen u "$LAB_PORT_DNS" &&
		_lab_wait_listen u "$LAB_PORT_ECHO"
}

lab_servers_stop() {
	local e name pid i
	for e in "${LAB_PIDS_SERVERS[@]}"; do
		name=${e%%:*} pid=${e##*:}
		kill -TERM "$pid" 2>/dev/null || continue
		for i in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		lab_log "stopped $name pid $pid"
	done
	LAB_PIDS_SERVERS=()
}

# ------------------------------------------------------------------- capture
lab_capture_start() { # FILE [IFACE]
	local file=$1 ifc=${2:-$LAB_IF_C}
	: >"$LAB_STATE/tcpdump.err"
	ip netns exec "$LAB_NS_CLI" tcpdump -U --immediate-mode -Z root -s 0 -i "$ifc" -w "$file" \
		2>"$LAB_STATE/tcpdump.err" </dev/null &
	LAB_PID_TCPDUMP=$!
	lab_wait_line "$LAB_STATE/tcpdump.err" 'listening on' "$LAB_PID_TCPDUMP" && return 0
	cat "$LAB_STATE/tcpdump.err" >&2
	lab_die "tcpdump did not start"
}

lab_capture_stop() {
	[ -n "${LAB_PID_TCPDUMP:-}" ] || return 0
	kill -INT "$LAB_PID_TCPDUMP" 2>/dev/null
	wait "$LAB_PID_TCPDUMP" 2>/dev/null
	LAB_PID_TCPDUMP=
	grep -E 'packets (captured|received|dropped)' "$LAB_STATE/tcpdump.err" >&2 || true
}

# ------------------------------------------------------------------- filters
lab_filter_names() { echo none udp-drop udp-synack-drop reject final-ack-drop udp-vanish; }

# Namespace a filter is applied in.
lab_filter_ns() { # NAME
	case $1 in
	udp-vanish) echo "$LAB_NS_CLI" ;;
	*) echo "$LAB_NS_RTR" ;;
	esac
}

# Print the nft ruleset of a named filter upgrade.
lab_filter_ruleset() { # NAME
	local t=$LAB_FILTER_TABLE body hook=forward
	case $1 in
	none | noop) body='' ;;
	udp-drop)
		body='meta l4proto udp drop' ;;
	udp-synack-drop)
		body='meta l4proto udp drop
        tcp flags & (syn|ack) == syn|ack drop' ;;
	reject)
		body='meta l4proto tcp reject with tcp reset
        meta l4proto udp reject with icmpx type port-unreachable' ;;
	final-ack-drop) # client->server TCP that is not a pure SYN
		body="ip saddr $LAB_V4_NET_C ip daddr $LAB_V4_NET_S tcp flags & (fin|syn|rst|ack) != syn drop
        ip6 saddr $LAB_V6_NET_C ip6 daddr $LAB_V6_NET_S tcp flags & (fin|syn|rst|ack) != syn drop" ;;
	udp-vanish) # on the client host itself, before the capture point
		hook=output
		body='meta l4proto udp drop' ;;
	*)
		lab_die "unknown filter '$1' (known: $(lab_filter_names))"
		return 1 ;;
	esac
	cat <<-EOF
		table inet $t {
		    chain $hook {
		        type filter hook $hook priority 0; policy accept;
		        $body
		    }
		}
	EOF
}

# Apply a filter upgrade.  Sets LAB_FILTER_MARK to the epoch (s.us) taken
# right before `nft -f`.
lab_filter_apply() { # NAME
	local name=$1 ns f=$LAB_STATE/filter-$1.nft
	lab_filter_ruleset "$name" >"$f" || return 1
	ns=$(lab_filter_ns "$name")
	lab_nsexec "$ns" nft -c -f "$f" || { lab_die "nft rejects filter $name"; return 1; }
	LAB_FILTER_MARK=$(date +%s.%6N)
	lab_nsexec "$ns" nft -f "$f" || { lab_die "nft -f failed for $name"; return 1; }
	lab_log "filter $name applied in $ns at $LAB_FILTER_MARK"
}

lab_filter_clear() {
	local ns
	for ns in "$LAB_NS_RTR" "$LAB_NS_CLI"; do
		lab_nsexec "$ns" nft list table inet "$LAB_FILTER_TABLE" >/dev/null 2>&1 &&
			lab_nsexec "$ns" nft delete table inet "$LAB_FILTER_TABLE"
	done
	return 0
}

# ------------------------------------------------------------------ workload
# One action = one flow.  Runs in the background; appends one line to
# LAB_ACTIONS_LOG when done:
#   START_EPOCH END_EPOCH PHASE KIND RC OUTCOME DETAIL
# KIND: dns dns_closed udp_echo http http_closed ping
# OUTCOME (what the client program reported):
#   dns/dns_closed: answered | timeout | refused | send_error | error
#   udp_echo:       echoed | noreply | refused | send_error | error
#   http/http_closed: ok | refused | timeout_connected | timeout | error
#                   (curl exit 0 | 7 | 28 after connect() completed | 28 | other)
#   ping:           replied | noreply | error
# dig reports a datagram dropped by the client's own output hook (EPERM) as a
# plain time-out; socat reports it as "Operation not permitted" (send_error).
_lab_now() { local t=${EPOCHREALTIME/,/.}; echo "$t"; }

_lab_action() { # PHASE KIND SPORT [ARG]   (SPORT: UDP source port, 0 = kernel's choice)
	local phase=$1 kind=$2 sport=$3 start end rc out outcome detail srv cli fam
	start=$(_lab_now)
	fam=${LAB_FAMILY:-4}
	if [ "$fam" = 6 ]; then srv=$LAB_V6_SRV cli=$LAB_V6_CLI; else srv=$LAB_V4_SRV cli=$LAB_V4_CLI; fi
	case $kind in
	dns | dns_closed)
		local port=$LAB_PORT_DNS qt=A name=${4:-svc.lab} bind=()
		[ "${sport:-0}" != 0 ] && bind=(-b "$cli#$sport")
		[ "$kind" = dns_closed ] && port=$LAB_PORT_DNS_CLOSED
		[ "$fam" = 6 ] && qt=AAAA
		out=$(ip netns exec "$LAB_NS_CLI" timeout 6 dig "${bind[@]}" "@$srv" -p "$port" "$name" "$qt" \
			+tries=1 +retry=0 +time=2 +noedns +nocookie 2>&1)
		rc=$?
		if [ $rc = 0 ] && grep -q 'status: NOERROR' <<<"$out"; then outcome=answered
		elif grep -qi 'refused' <<<"$out"; then outcome=refused
		elif grep -qi 'not permitted' <<<"$out"; then outcome=send_error
		elif [ $rc = 9 ]; then outcome=timeout
		else outcome=error; fi
		detail="$name/$qt:$port,sport=$sport"
		;;
	udp_echo)
		local msg="ttlab-echo-${4:-0}" dst=$srv opt=
		[ "$fam" = 6 ] && dst="[$srv]"
		if [ "${sport:-0}" != 0 ]; then
			if [ "$fam" = 6 ]; then opt=",bind=[$cli]:$sport"; else opt=",bind=$cli:$sport"; fi
		fi
		# -t: after sending (stdin EOF) wait up to 1.5 s for the echo
		out=$(echo "$msg" | ip netns exec "$LAB_NS_CLI" timeout 6 socat -t1.5 -T1.5 - \
			"UDP$fam:$dst:$LAB_PORT_ECHO$opt" 2>&1)
		rc=$?
		if [ "$out" = "$msg" ]; then outcome=echoed
		elif grep -qi 'refused' <<<"$out"; then outcome=refused
		elif grep -qi 'not permitted' <<<"$out"; then outcome=send_error
		elif [ $rc = 0 ] && [ -z "$out" ]; then outcome=noreply
		else outcome=error; fi
		detail="$msg,sport=$sport"
		;;
	http | http_closed)
		local port=$LAB_PORT_HTTP host=$srv
		[ "$kind" = http_closed ] && port=$LAB_PORT_HTTP_CLOSED
		[ "$fam" = 6 ] && host="[$srv]"
		out=$(ip netns exec "$LAB_NS_CLI" timeout 6 curl -s -o /dev/null \
			-w '%{http_code} %{time_connect}' --connect-timeout 2 --max-time 3 \
			"http://$host:$port/" 2>&1)
		rc=$?
		case $rc in
		0) outcome=ok ;;
		7) outcome=refused ;;
		28) if awk '{exit !($2 > 0)}' <<<"$out"; then outcome=timeout_connected; else outcome=timeout; fi ;;
		*) outcome=error ;;
		esac
		detail="port=$port,code_connect=${out// /,}"
		;;
	ping)
		out=$(ip netns exec "$LAB_NS_CLI" timeout 6 ping -"$fam" -c1 -W2 -q "$srv" 2>&1)
		rc=$?
		case $rc in 0) outcome=replied ;; 1) outcome=noreply ;; *) outcome=error ;; esac
		detail=icmp_echo
		;;
	esac
	end=$(_lab_now)
	# one short line, O_APPEND: atomic w.r.t. the other actions
	printf '%s %s %s %s %s %s %s\n' "$start" "$end" "$phase" "$kind" "$rc" "$outcome" "$detail" \
		>>"$LAB_ACTIONS_LOG"
}

# lab_workload SECONDS [PHASE]
#   Every 0.5 s (absolute schedule, no drift): one DNS query, one UDP echo, one
#   HTTP fetch; every 2 s one ping.  With LAB_NOISY=1 also, every 2 s, one DNS
#   query to a closed UDP port and one HTTP fetch to a closed TCP port.
#   Returns 0.5 s after its last tick, without waiting for the actions (their
#   PIDs are appended to LAB_ACTION_PIDS; lab_workload_wait waits for them).
#   LAB_FAMILY=4|6 chooses the server address family.
#   LAB_ACTIONS_LOG is the log file (default $LAB_STATE/actions.log).
LAB_ACTION_PIDS=()
LAB_UDP_SEQ=0
# UDP source ports: every UDP flow of the workload gets its own port, counted
# up from LAB_UDP_PORT_BASE (default 20000, below the kernel's ephemeral
# range), so no two flows of one run share a 5-tuple (random ephemeral ports
# collide now and then, and a collision merges two flows into one).
_lab_next_sport() { # sets LAB_SPORT (in the calling shell: no $(...) here)
	LAB_UDP_SEQ=$((LAB_UDP_SEQ + 1))
	LAB_SPORT=$((${LAB_UDP_PORT_BASE:-20000} + LAB_UDP_SEQ))
}
lab_workload() {
	local secs=$1 phase=${2:-run} ticks i t0 now target d
	LAB_ACTIONS_LOG=${LAB_ACTIONS_LOG:-$LAB_STATE/actions.log}
	ticks=$((secs * 2))
	t0=${EPOCHREALTIME/[.,]/}
	for ((i = 0; i < ticks; i++)); do
		target=$((t0 + i * 500000))
		now=${EPOCHREALTIME/[.,]/}
		d=$((target - now))
		[ $d -gt 0 ] && sleep "$((d / 1000000)).$(printf %06d $((d % 1000000)))"
		_lab_next_sport
		_lab_action "$phase" dns "$LAB_SPORT" "${LAB_DNS_NAMES[$((i % ${#LAB_DNS_NAMES[@]}))]}" &
		LAB_ACTION_PIDS+=($!)
		_lab_next_sport
		_lab_action "$phase" udp_echo "$LAB_SPORT" "$phase-$i" &
		LAB_ACTION_PIDS+=($!)
		_lab_action "$phase" http 0 &
		LAB_ACTION_PIDS+=($!)
		if [ $((i % 4)) = 0 ]; then
			_lab_action "$phase" ping 0 &
			LAB_ACTION_PIDS+=($!)
		fi
		if [ "${LAB_NOISY:-0}" = 1 ]; then
			if [ $((i % 4)) = 1 ]; then
				_lab_next_sport
				_lab_action "$phase" dns_closed "$LAB_SPORT" svc.lab &
				LAB_ACTION_PIDS+=($!)
			fi
			if [ $((i % 4)) = 3 ]; then
				_lab_action "$phase" http_closed 0 &
				LAB_ACTION_PIDS+=($!)
			fi
		fi
	done
	target=$((t0 + ticks * 500000))
	now=${EPOCHREALTIME/[.,]/}
	d=$((target - now))
	[ $d -gt 0 ] && sleep "$((d / 1000000)).$(printf %06d $((d % 1000000)))"
	return 0
}

# Wait for every action started by lab_workload (each is bounded by timeout 6).
lab_workload_wait() {
	local p
	for p in "${LAB_ACTION_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	LAB_ACTION_PIDS=()
}

# ------------------------------------------------------------------ teardown
lab_down() {
	local p
	for p in "${LAB_ACTION_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	lab_workload_wait
	lab_capture_stop
	lab_servers_stop
	lab_ns_destroy "${LAB_NS_CLI:-}"
	lab_ns_destroy "${LAB_NS_RTR:-}"
	lab_ns_destroy "${LAB_NS_SRV:-}"
	if [ "${LAB_STATE_OWNED:-0}" = 1 ] && [ -n "${LAB_STATE:-}" ] && [ "${LAB_KEEP_STATE:-0}" != 1 ]; then
		rm -rf "$LAB_STATE"
		LAB_STATE='' LAB_STATE_OWNED=0
	fi
	return 0
}
