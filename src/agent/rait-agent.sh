#!/bin/sh
# rait-agent.sh — the rait-fleet node agent. POSIX sh; needs ip, wg, kernel WireGuard or
# wireguard-go, and babeld when the plan enables it.
#
# Usage: sh -s -- deploy|check|down|status [-v]
# stdin: a prelude defining rf_payload() (writes plan, rait.conf, peers.conf, babeld.conf and
# private.key into the directory given as $1), then this script. See src/agent/README.md.
#
# stdout carries exactly one JSON document (src/agent/report.ts); everything else goes to stderr.
# Exit 0 whenever that document was printed, also with "ok": false.

# Facts are read freely; every change goes through cmd(), which prints "[#] command" with -v.
# In check mode cmd() only prints what it would run.

export LC_ALL=C
umask 077
# Unset variables are bugs; names read from the system are split on spaces but never globbed.
set -uf

MODE=
VERBOSE=0
DRY=0
STAGE=
# A config file being written; removed on exit so no temp file outlives the agent.
INSTALL_TMP=
ERROR=
WG_IMPL=
FILES_JSON=
ADDED=
UPDATED=
REMOVED=
KEPT=
BABELD=disabled
BABEL_TOLD=0
# babeld was stopped because the links moved to another namespace; it starts again beside them.
BABELD_MOVED=0
BABELD_PIDFILE=/run/babeld.pid
OS_RELEASE=${RF_OS_RELEASE:-/etc/os-release}

# Plan values (see contract.md "Agent payload").
P_PREFIX=
P_GROUP=
P_MTU=
P_FWMARK=
P_ISOLATION=
P_IFNS=
P_TRANSIT=
P_CONFIG_DIR=
P_BABELD=0
P_BABELD_CONFIG=
P_BABELD_SOCKET=
P_LINKS=
P_NAMES=

# Status facts.
V_WG=
V_BABELD=
V_KERNEL=
S_HASHES=
S_LINKS=
S_BABEL='{"running":false,"neighbours":[],"routes":0}'

# Command prefixes for the interface and transit side. With netns isolation they carry the
# namespace; values are validated names, so word splitting them is intended.
IP_IF=ip
WG_IF=wg
IP_TR=ip
RUN_IF=
RUN_TR=

say() { printf '%s\n' "$*" >&4; }

cmd() {
	if [ "$DRY" = 1 ]; then
		[ "$VERBOSE" = 1 ] && say "[would] $*"
		return 0
	fi
	[ "$VERBOSE" = 1 ] && say "[#] $*"
	"$@" || die "command failed: $*"
}

die() {
	ERROR=$*
	say "rait-agent: $ERROR"
	report
	exit 0
}

# ---------------------------------------------------------------- JSON

# Escape stdin for a JSON string body: \ " tab, other control characters; lines are joined
# with \n, and with trail=1 every line (also the last) ends in \n.
json_escape() {
	awk -v trail="${1:-0}" '
	BEGIN { for (i = 1; i < 32; i++) ctl = ctl sprintf("%c", i) }
	{
		out = ""
		n = length($0)
		for (i = 1; i <= n; i++) {
			c = substr($0, i, 1)
			if (c == "\\") out = out "\\\\"
			else if (c == "\"") out = out "\\\""
			else if (c == "\t") out = out "\\t"
			else if ((k = index(ctl, c)) > 0) out = out sprintf("\\u%04x", k)
			else out = out c
		}
		if (trail) printf "%s\\n", out
		else printf "%s%s", (NR > 1 ? "\\n" : ""), out
	}'
}

# Plain text (names, versions, the usual case) needs no escaping, which spares an awk.
json_str() {
	case $1 in
	*[!A-Za-z0-9\ _.,:/+=@-]*) printf '"'; printf '%s' "$1" | json_escape; printf '"' ;;
	*) printf '"%s"' "$1" ;;
	esac
}

json_file() { printf '"'; json_escape 1 <"$1"; printf '"'; }

# A JSON array of strings from a space-separated list of interface names.
json_names() {
	printf '['
	sep=
	for n in $1; do
		printf '%s' "$sep"
		json_str "$n"
		sep=,
	done
	printf ']'
}

report() {
	case $MODE in
	status) report_status ;;
	*) report_apply ;;
	esac >&3
}

report_head() {
	printf '{"agent":1,"mode":'
	json_str "$MODE"
	if [ -n "$ERROR" ]; then
		printf ',"ok":false,"error":'
		json_str "$ERROR"
	else
		printf ',"ok":true'
	fi
	[ -n "$WG_IMPL" ] && printf ',"wireguard":"%s"' "$WG_IMPL"
	return 0
}

report_apply() {
	report_head
	printf ',"files":[%s],"links":{"added":' "$FILES_JSON"
	json_names "$ADDED"
	printf ',"updated":'
	json_names "$UPDATED"
	printf ',"removed":'
	json_names "$REMOVED"
	printf ',"kept":'
	json_names "$KEPT"
	printf '},"babeld":'
	json_str "$BABELD"
	printf '}\n'
}

# ---------------------------------------------------------------- requirements

# "ID ID_LIKE..." from os-release, read without executing it.
distro() {
	[ -r "$OS_RELEASE" ] || return 0
	sed -n 's/^ID=//p; s/^ID_LIKE=//p' "$OS_RELEASE" | tr -d "\"'" | tr '\n' ' ' | sed 's/ *$//'
}

# The package providing program $1 on this distribution.
package_of() {
	for id in $(distro); do
		case $id:$1 in
		debian:ip | ubuntu:ip | alpine:ip | arch:ip) echo iproute2; return ;;
		fedora:ip | rhel:ip | centos:ip) echo iproute; return ;;
		debian:* | ubuntu:* | fedora:* | rhel:* | centos:* | alpine:* | arch:*)
			case $1 in
			wg) echo wireguard-tools ;;
			*) echo "$1" ;;
			esac
			return ;;
		esac
	done
	echo unknown
}

need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	pkg=$(package_of "$1")
	[ "$pkg" = unknown ] && die "missing program $1 (install it; no package name known for this distribution)"
	die "missing program $1: install package $pkg ($(distro))"
}

# Kernel WireGuard if the module is there or a throwaway link can be made, else wireguard-go.
check_wireguard() {
	if [ -d /sys/module/wireguard ]; then
		WG_IMPL=kernel
		return
	fi
	probe=rfprobe$$
	probe=$(printf '%.15s' "$probe")
	if ip link add "$probe" type wireguard 2>/dev/null; then
		ip link del "$probe" 2>/dev/null
		WG_IMPL=kernel
	elif command -v wireguard-go >/dev/null 2>&1; then
		WG_IMPL=wireguard-go
	else
		die "no WireGuard: the kernel has no wireguard module and wireguard-go is missing: install package $(package_of wireguard-go)"
	fi
}

check_requirements() {
	need ip
	need wg
	case $MODE in
	deploy | check)
		check_wireguard
		[ "$P_BABELD" = 1 ] && need babeld
		;;
	esac
	return 0
}

# ---------------------------------------------------------------- plan

valid_name() { # ifname-like: [A-Za-z0-9_-]{1,15}
	case $1 in '' | *[!A-Za-z0-9_-]*) return 1 ;; esac
	[ ${#1} -le 15 ]
}
valid_ns() { [ "$1" = - ] || { case $1 in '' | *[!A-Za-z0-9_.-]* | .*) return 1 ;; esac; [ ${#1} -le 64 ]; }; }
valid_uint() { case $1 in '' | *[!0-9]*) return 1 ;; esac; [ ${#1} -le 10 ]; }
valid_port() { valid_uint "$1" && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }
valid_path() { case $1 in /*) ;; *) return 1 ;; esac; case $1 in *[!A-Za-z0-9_./-]* | *..*) return 1 ;; esac; }
valid_key() { # base64 of 32 bytes: 43 characters and one "="
	[ ${#1} -eq 44 ] || return 1
	case $1 in *[!A-Za-z0-9+/=]* | *=*=* | *[!=]) return 1 ;; esac
}
valid_host() { case $1 in '' | *[!A-Za-z0-9.:_-]* | -*) return 1 ;; esac; [ ${#1} -le 253 ]; }
valid_ll() { case $1 in *[!0-9a-fA-F:/]* | */*/* | [!fF]*) return 1 ;; */[0-9]*) return 0 ;; esac; return 1; }

bad_plan() { die "plan line $lineno: bad $1: $2"; }

none_if_dash() { [ "$1" = - ] && return 0; printf '%s' "$1"; }

read_plan() {
	[ -r "$STAGE/plan" ] || die "no plan in the payload"
	lineno=0
	version=
	while read -r key a b c d e f; do
		lineno=$((lineno + 1))
		case $key in
		version) [ "$a" = 1 ] || bad_plan version "$a"; version=1 ;;
		prefix) valid_name "$a" || bad_plan prefix "$a"; P_PREFIX=$a ;;
		group) valid_uint "$a" || bad_plan group "$a"; P_GROUP=$a ;;
		mtu) { valid_uint "$a" && [ "$a" -ge 1280 ]; } || bad_plan mtu "$a"; P_MTU=$a ;;
		fwmark) valid_uint "$a" || bad_plan fwmark "$a"; P_FWMARK=$a ;;
		isolation) case $a in none | netns | vrf) P_ISOLATION=$a ;; *) bad_plan isolation "$a" ;; esac ;;
		interface_namespace) valid_ns "$a" || bad_plan "$key" "$a"; P_IFNS=$(none_if_dash "$a") ;;
		transit_namespace) valid_ns "$a" || bad_plan "$key" "$a"; P_TRANSIT=$(none_if_dash "$a") ;;
		config_dir) valid_path "$a" || bad_plan "$key" "$a"; P_CONFIG_DIR=$a ;;
		babeld) case $a in 0 | 1) P_BABELD=$a ;; *) bad_plan babeld "$a" ;; esac ;;
		babeld_config) valid_path "$a" || bad_plan "$key" "$a"; P_BABELD_CONFIG=$a ;;
		babeld_socket) valid_path "$a" || bad_plan "$key" "$a"; P_BABELD_SOCKET=$a ;;
		link)
			valid_name "$a" || bad_plan "interface name" "$a"
			case $a in "$P_PREFIX"*) ;; *) bad_plan "interface name (not prefix $P_PREFIX)" "$a" ;; esac
			valid_port "$b" || bad_plan "listen port" "$b"
			valid_key "$c" || bad_plan "public key" "$c"
			valid_host "$d" || bad_plan "endpoint host" "$d"
			valid_port "$e" || bad_plan "endpoint port" "$e"
			valid_ll "$f" || bad_plan "link-local address" "$f"
			case " $P_NAMES " in *" $a "*) bad_plan "duplicate interface" "$a" ;; esac
			P_NAMES="$P_NAMES $a"
			P_LINKS="$P_LINKS$a $b $c $d $e $f
"
			;;
		'' | '#'*) ;;
		*) bad_plan key "$key" ;;
		esac
	done <"$STAGE/plan"
	[ "$version" = 1 ] || die "plan has no 'version 1' line"
	for v in P_PREFIX P_GROUP P_MTU P_FWMARK P_ISOLATION P_CONFIG_DIR; do
		eval "[ -n \"\$$v\" ]" || die "plan lacks $v"
	done
	if [ "$P_BABELD" = 1 ]; then
		{ [ -n "$P_BABELD_CONFIG" ] && [ -n "$P_BABELD_SOCKET" ]; } || die "plan enables babeld without babeld_config/babeld_socket"
	fi
	set_namespaces
}

# netns: links are made in the transit namespace and live in the interface namespace.
set_namespaces() {
	[ "$P_ISOLATION" = netns ] || return 0
	if [ -n "$P_IFNS" ]; then
		IP_IF="ip -n $P_IFNS"
		WG_IF="ip netns exec $P_IFNS wg"
		RUN_IF="ip netns exec $P_IFNS"
	fi
	if [ -n "$P_TRANSIT" ]; then
		IP_TR="ip -n $P_TRANSIT"
		RUN_TR="ip netns exec $P_TRANSIT"
	fi
}

# ---------------------------------------------------------------- files

add_file_json() { # name changed [diff-file]
	[ -n "$FILES_JSON" ] && FILES_JSON="$FILES_JSON,"
	FILES_JSON="$FILES_JSON{\"name\":\"$1\",\"changed\":$2"
	[ -n "${3:-}" ] && FILES_JSON="$FILES_JSON,\"diff\":$(json_file "$3")"
	FILES_JSON="$FILES_JSON}"
}

redact() { sed 's/^\([[:space:]]*PrivateKey[[:space:]]*=\).*/\1 "<redacted>"/' "$1"; }

# Unified diff old -> new with private keys redacted, into $STAGE/$name.diff.
file_diff() { # name target staged
	out=$STAGE/$1.diff
	if ! command -v diff >/dev/null 2>&1; then
		echo "diff unavailable" >"$out"
		return
	fi
	old=$STAGE/$1.old
	new=$STAGE/$1.new
	if [ -f "$2" ]; then redact "$2" >"$old"; else : >"$old"; fi
	redact "$3" >"$new"
	diff -u -L "a/$1" -L "b/$1" "$old" "$new" >"$out"
	[ $? -le 1 ] || echo "diff failed" >"$out"
}

install_file() { # name target mode
	staged=$STAGE/$1
	[ -f "$staged" ] || return 0
	if [ -f "$2" ] && cmp -s "$staged" "$2"; then
		add_file_json "$1" false
		return
	fi
	if [ "$DRY" = 1 ]; then
		file_diff "$1" "$2" "$staged"
		add_file_json "$1" true "$STAGE/$1.diff"
		return
	fi
	dir=${2%/*}
	ensure_dir "${dir:-/}"
	write_atomic "$2" "$3" prev <"$staged"
	add_file_json "$1" true
}

# stdin to $1 (mode $2) through a temp file beside it and a rename: readers see the old file or
# the new one. With "prev" the old one stays as $1.prev.
write_atomic() { # target mode [prev]
	dir=${1%/*}
	dir=${dir:-/}
	tmp=$(mktemp "$dir/.${1##*/}.XXXXXX") || die "cannot create a temporary file in $dir"
	INSTALL_TMP=$tmp
	{ cat >"$tmp" && chmod "$2" "$tmp"; } || die "cannot write $tmp"
	[ "${3:-}" = prev ] && [ -f "$1" ] && cmd ln -f "$1" "$1.prev"
	cmd mv -f "$tmp" "$1"
	INSTALL_TMP=
}

ensure_dir() {
	if [ ! -d "$1" ]; then
		cmd mkdir -p -m 0755 "$1"
	fi
	# A directory others can write to would let them swap our files.
	[ -n "$(find "$1" -prune -perm -0002 2>/dev/null)" ] && die "$1 is world-writable; refusing to write there"
	return 0
}

sync_files() {
	install_file rait.conf "$P_CONFIG_DIR/rait.conf" 0600
	install_file peers.conf "$P_CONFIG_DIR/peers.conf" 0644
	[ "$P_BABELD" = 1 ] && install_file babeld.conf "$P_BABELD_CONFIG" 0644
	return 0
}

# ---------------------------------------------------------------- links

# Managed interfaces as the given ip command sees them (e.g. ip -n NS): in our ifgroup and named
# with our prefix.
managed_links() { # ip-command...
	"$@" -o link show group "$P_GROUP" 2>/dev/null |
		awk -v p="$P_PREFIX" '{ n = $2; sub(/:$/, "", n); sub(/@.*/, "", n); if (index(n, p) == 1) print n }'
}

# The same set from the facts read_facts saved (ip prints group 0 as "default").
facts_managed_links() {
	awk -v p="$P_PREFIX" -v group="$P_GROUP" '$3 ~ /^</ {
		n = $2; sub(/:$/, "", n); sub(/@.*/, "", n); g = ""
		for (i = 4; i < NF; i++) if ($i == "group") g = ($(i + 1) == "default") ? 0 : $(i + 1)
		if (g == group && index(n, p) == 1) print n
	}' "$STAGE/ip.facts"
}

wanted() { case " $P_NAMES " in *" $1 "*) return 0 ;; esac; return 1; }

endpoint_of() { # host port -> wg's notation
	case $1 in *:*) printf '[%s]:%s' "$1" "$2" ;; *) printf '%s:%s' "$1" "$2" ;; esac
}

# Does wg's current endpoint "addr:port" match host:port? Names resolve on this node.
endpoint_matches() { # current host port
	[ "$1" = "$(endpoint_of "$2" "$3")" ] && return 0
	case $2 in *[!0-9.]* | '') ;; *) return 1 ;; esac # IPv4 literal: exact match only
	case $2 in *:*) return 1 ;; esac                    # IPv6 literal
	command -v getent >/dev/null 2>&1 || { [ "${1##*:}" = "$3" ]; return; }
	for addr in $(getent ahosts "$2" 2>/dev/null | awk '{ print $1 }' | sort -u); do
		[ "$1" = "$(endpoint_of "$addr" "$3")" ] && return 0
	done
	return 1
}

# The node's facts, read once whatever the number of links: wg's dump into $STAGE/wg.dump and
# ip's links and addresses into $STAGE/ip.facts. The dump holds private keys: it stays in the
# private stage directory, never on a command line or in the log.
read_facts() {
	# shellcheck disable=SC2086
	$WG_IF show all dump >"$STAGE/wg.dump" 2>/dev/null || : >"$STAGE/wg.dump"
	# shellcheck disable=SC2086
	printf 'link show\naddr show\n' | $IP_IF -o -batch - >"$STAGE/ip.facts" 2>/dev/null
	return 0
}

# Compares every planned link with the facts in one awk. Prints per link
# "name port pub host eport ll current-endpoint words": words name what differs (wg peers link
# addr up master), "missing" when the link does not exist, "resolve" when the endpoint differs
# only as a host name that may resolve to it (endpoint_matches decides).
plan_diffs() {
	read_facts
	if [ "$P_FWMARK" = 0 ]; then want_fw=off; else want_fw=$(printf '0x%x' "$P_FWMARK"); fi
	printf '%s' "$P_LINKS" | awk -v mtu="$P_MTU" -v group="$P_GROUP" -v fw="$want_fw" \
		-v master="$(vrf_master)" -v vrf="$P_IFNS" -v keyfile="$STAGE/private.key" \
		-v wgfile="$STAGE/wg.dump" -v ipfile="$STAGE/ip.facts" '
	BEGIN { key = ""; getline key <keyfile; close(keyfile) }
	FILENAME == wgfile && NF == 5 { priv[$1] = $2; lport[$1] = $4; fwm[$1] = $5; next }
	FILENAME == wgfile && NF == 9 { npeers[$1]++; pep[$1, $2] = $4; pips[$1, $2] = $5; next }
	FILENAME == wgfile { next }
	FILENAME == ipfile && $3 ~ /^</ {
		n = $2; sub(/:$/, "", n); sub(/@.*/, "", n)
		exists[n] = 1
		up[n] = ($3 ~ /[<,]UP[,>]/)
		for (i = 4; i < NF; i++) {
			if ($i == "mtu") lmtu[n] = $(i + 1)
			else if ($i == "group") lgroup[n] = ($(i + 1) == "default") ? 0 : $(i + 1)
			else if ($i == "master") lmaster[n] = $(i + 1)
		}
		next
	}
	FILENAME == ipfile && $3 == "inet6" { addr[$2, $4] = 1; next }
	FILENAME == ipfile { next }
	NF == 6 {
		name = $1; pub = $3; host = $4; eport = $5
		split("", w)
		cur = ((name, pub) in pep) ? pep[name, pub] : "(none)"
		if (!(name in exists)) w["missing"] = 1
		else {
			if (priv[name] != key || lport[name] != $2 || fwm[name] != fw) w["wg"] = 1
			if (npeers[name] != 1 || !((name, pub) in pep)) w["peers"] = 1
			want = (host ~ /:/) ? "[" host "]:" eport : host ":" eport
			if (cur != want) w[(host ~ /^[0-9.]+$/ || host ~ /:/) ? "wg" : "resolve"] = 1
			if (pips[name, pub] != "0.0.0.0/0,::/0" && pips[name, pub] != "::/0,0.0.0.0/0") w["wg"] = 1
			if (lmtu[name] != mtu || lgroup[name] != group) w["link"] = 1
			if (!up[name]) w["up"] = 1
			if (master != "" && lmaster[name] != vrf) w["master"] = 1
			if (!((name, $6) in addr)) w["addr"] = 1
		}
		words = ""
		for (k in w) words = words " " k
		print $0, cur words
	}' "$STAGE/wg.dump" "$STAGE/ip.facts" -
}

create_link() { # name
	# shellcheck disable=SC2086
	{
		ensure_netns
		# A leftover of an interrupted run in the transit namespace would block the name.
		if [ -n "$RUN_TR$RUN_IF" ] && $IP_TR link show dev "$1" >/dev/null 2>&1; then
			cmd $IP_TR link del dev "$1"
		fi
		if [ "$WG_IMPL" = kernel ]; then
			cmd $IP_TR link add dev "$1" type wireguard
		else
			start_wireguard_go "$1"
		fi
		if [ -n "$P_IFNS" ] && [ "$P_ISOLATION" = netns ]; then
			cmd $IP_TR link set dev "$1" netns "$P_IFNS"
		elif [ -n "$P_TRANSIT" ] && [ "$P_ISOLATION" = netns ]; then
			cmd $IP_TR link set dev "$1" netns $$
		fi
		# In our group at once: an interrupted run leaves a managed link the next sync cleans up.
		cmd $IP_IF link set dev "$1" group "$P_GROUP"
		# TUN links would get a random kernel link-local beside ours; babeld must see ours.
		[ "$WG_IMPL" = wireguard-go ] && cmd $IP_IF link set dev "$1" addrgenmode none
	}
	return 0
}

# Daemons (wireguard-go, babeld) must not inherit the SSH session's stdout/stderr (also fds 3
# and 4): the session would only end when they do.
start_wireguard_go() {
	# shellcheck disable=SC2086
	if [ "$DRY" = 1 ]; then cmd $RUN_TR wireguard-go "$1"; return; fi
	[ "$VERBOSE" = 1 ] && say "[#] ${RUN_TR:+$RUN_TR }wireguard-go $1"
	# shellcheck disable=SC2086
	$RUN_TR wireguard-go "$1" </dev/null >"$STAGE/wireguard-go.log" 2>&1 3>&- 4>&- ||
		die "wireguard-go $1 failed: $(tail -n 3 "$STAGE/wireguard-go.log")"
	# Its parent returns before the daemon has set the device up; a link moved to another
	# namespace before that makes the daemon fail. Its control socket answers once it is ready.
	# shellcheck disable=SC2086
	$RUN_TR wg show "$1" listen-port >/dev/null 2>&1 ||
		die "wireguard-go $1 did not come up: $(tail -n 3 "$STAGE/wireguard-go.log")"
}

# Once per run, before the first link is created: the answer is the same for every link.
NETNS_READY=0
ensure_netns() {
	{ [ "$P_ISOLATION" = netns ] && [ "$NETNS_READY" = 0 ]; } || return 0
	NETNS_READY=1
	for ns in $P_TRANSIT $P_IFNS; do
		ip netns list 2>/dev/null | awk '{ print $1 }' | grep -qx "$ns" || cmd ip netns add "$ns"
	done
	return 0
}

configure_link() { # diffs name port pub host eport ll
	d=$1
	shift
	# Without "peers" the link has exactly the planned peer (plan_diffs), so nothing to remove.
	# shellcheck disable=SC2086
	case " $d " in *" peers "*)
		for old in $($WG_IF show "$1" peers 2>/dev/null); do
			[ "$old" = "$3" ] || cmd $WG_IF set "$1" peer "$old" remove
		done
		;;
	esac
	# shellcheck disable=SC2086
	case " $d " in *" wg "* | *" peers "*)
		cmd $WG_IF set "$1" private-key "$STAGE/private.key" listen-port "$2" fwmark "$P_FWMARK" \
			peer "$3" endpoint "$(endpoint_of "$4" "$5")" allowed-ips 0.0.0.0/0,::/0
		;;
	esac
	# shellcheck disable=SC2086
	case " $d " in *" master "*) cmd $IP_IF link set dev "$1" master "$P_IFNS" ;; esac
	# shellcheck disable=SC2086
	case " $d " in *" link "*) cmd $IP_IF link set dev "$1" mtu "$P_MTU" group "$P_GROUP" ;; esac
	# shellcheck disable=SC2086
	case " $d " in *" addr "*) cmd $IP_IF addr replace "$6" dev "$1" ;; esac
	# shellcheck disable=SC2086
	case " $d " in *" up "*) cmd $IP_IF link set dev "$1" up ;; esac
	return 0
}

# Ensure each planned link, leave the right ones alone, delete every other managed link.
sync_links() {
	[ "$P_ISOLATION" = vrf ] && ensure_vrfs
	plan_diffs >"$STAGE/diffs" || die "cannot compare the links with the plan"
	existing=$(facts_managed_links)
	while read -r name port pub host eport ll cur d <&5; do
		[ -n "$name" ] || continue
		case " $d " in *" missing "*)
			create_link "$name"
			configure_link "wg link addr up $(vrf_master)" "$name" "$port" "$pub" "$host" "$eport" "$ll"
			ADDED="$ADDED $name"
			continue
			;;
		esac
		case " $d " in *" resolve "*)
			words=
			for w in $d; do [ "$w" = resolve ] || words="${words:+$words }$w"; done
			endpoint_matches "$cur" "$host" "$eport" || words="${words:+$words }wg"
			d=$words
			;;
		esac
		if [ -z "$d" ]; then
			KEPT="$KEPT $name"
		else
			[ "$VERBOSE" = 1 ] && say "$name differs: $d"
			configure_link "$d" "$name" "$port" "$pub" "$host" "$eport" "$ll"
			UPDATED="$UPDATED $name"
		fi
	done 5<"$STAGE/diffs"
	stale=
	for name in $existing; do
		wanted "$name" || stale="$stale $name"
	done
	# babeld forgets a link while it still exists, so it can say goodbye cleanly.
	# shellcheck disable=SC2086
	babel_forget $stale
	for name in $stale; do
		# shellcheck disable=SC2086
		cmd $IP_IF link del dev "$name"
		REMOVED="$REMOVED $name"
	done
}

# ---------------------------------------------------------------- placement

# Where the links live: "isolation interface-namespace transit-namespace". It is recorded after
# each deploy or down, so that a changed placement first removes the links (and stops babeld)
# where they were: they would keep their names and UDP ports there and block the new ones.
placement() { printf '%s %s %s\n' "$P_ISOLATION" "${P_IFNS:--}" "${P_TRANSIT:--}"; }
placement_file() { printf '%s/placement' "$P_CONFIG_DIR"; }

# Read (and checked) before anything changes. OLD_IP: how to reach the links at the recorded
# place when they have to move; empty when they stay.
OLD_PLACEMENT=
OLD_IP=
read_old_placement() {
	[ -r "$(placement_file)" ] || return 0
	read -r old_iso old_ifns old_tr <"$(placement_file)" || :
	[ "$old_iso $old_ifns $old_tr" = "$(placement)" ] && return 0
	case $old_iso in none | netns | vrf) ;; *) die "$(placement_file): unreadable placement record; remove it" ;; esac
	{ valid_ns "$old_ifns" && valid_ns "$old_tr"; } || die "$(placement_file): bad namespace name; remove it"
	OLD_PLACEMENT="$old_iso $old_ifns $old_tr"
	OLD_IP=ip
	[ "$old_iso" = netns ] && [ "$old_ifns" != - ] && OLD_IP="ip -n $old_ifns"
	return 0
}

leave_old_placement() {
	[ -n "$OLD_IP" ] || return 0
	say "links move from '$OLD_PLACEMENT' to '$(placement)': removing them where they were"
	if [ "$P_BABELD" = 1 ] && babeld_pid >/dev/null; then
		stop_babeld
		BABELD_MOVED=1
	fi
	# shellcheck disable=SC2086
	for name in $(managed_links $OLD_IP); do
		cmd $OLD_IP link del dev "$name"
		REMOVED="$REMOVED $name"
	done
	# shellcheck disable=SC2086
	[ "$WG_IMPL" = wireguard-go ] && [ "$DRY" = 0 ] && wait_wireguard_go_gone $REMOVED
	return 0
}

# wireguard-go exits a moment after its link is deleted; until then it holds the link's UAPI
# socket and UDP port, which the same link at its new place needs.
wait_wireguard_go_gone() { # names...
	for name; do
		for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do
			wg show "$name" listen-port >/dev/null 2>&1 || continue 2
			sleep 0.1 2>/dev/null || sleep 1
		done
		die "wireguard-go for $name did not exit after its link was deleted"
	done
}

record_placement() {
	[ "$DRY" = 1 ] && return 0
	[ -d "$P_CONFIG_DIR" ] || return 0
	[ "$(cat "$(placement_file)" 2>/dev/null)" = "$(placement)" ] && return 0
	placement >"$STAGE/placement"
	write_atomic "$(placement_file)" 0644 <"$STAGE/placement"
}

# ---------------------------------------------------------------- VRF isolation

# "master" when links belong to an interface VRF (a diff word for configure_link).
vrf_master() { [ "$P_ISOLATION" = vrf ] && [ -n "$P_IFNS" ] && echo master; return 0; }

# A stable routing table for VRF $1 (only used when we create the device).
vrf_table() { printf '%s' "$1" | cksum | awk '{ print 1000 + $1 % 1000000 }'; }

ensure_vrf() {
	ip -o link show dev "$1" >/dev/null 2>&1 && return 0
	if [ "$DRY" = 1 ]; then cmd ip link add "$1" type vrf table "$(vrf_table "$1")"; return; fi
	[ "$VERBOSE" = 1 ] && say "[#] ip link add $1 type vrf table $(vrf_table "$1")"
	ip link add "$1" type vrf table "$(vrf_table "$1")" ||
		die "kernel has no VRF support (ip link add $1 type vrf failed)"
	cmd ip link set dev "$1" up
}

# Links are enslaved to the interface VRF; WireGuard's own UDP traffic (marked with fwmark)
# is routed by the transit VRF's table.
ensure_vrfs() {
	[ -n "$P_IFNS" ] && ensure_vrf "$P_IFNS"
	[ -n "$P_TRANSIT" ] || return 0
	ensure_vrf "$P_TRANSIT"
	table=$(ip -d -o link show dev "$P_TRANSIT" 2>/dev/null | sed -n 's/.* vrf table \([0-9]*\).*/\1/p')
	[ -n "$table" ] || table=$(vrf_table "$P_TRANSIT")
	[ -n "$(ip rule list fwmark "$P_FWMARK" table "$table" 2>/dev/null)" ] ||
		cmd ip rule add fwmark "$P_FWMARK" table "$table"
	[ -n "$(ip -6 rule list fwmark "$P_FWMARK" table "$table" 2>/dev/null)" ] ||
		cmd ip -6 rule add fwmark "$P_FWMARK" table "$table"
	return 0
}

# ---------------------------------------------------------------- babeld

# Send control lines to babeld's socket; prints its replies. Fails without a client.
babel_ctl() {
	if command -v socat >/dev/null 2>&1; then
		printf '%s\nquit\n' "$1" | socat -t 5 - "UNIX-CONNECT:$P_BABELD_SOCKET" 2>/dev/null
	elif command -v nc >/dev/null 2>&1; then
		printf '%s\nquit\n' "$1" | nc -U "$P_BABELD_SOCKET" 2>/dev/null
	else
		return 2
	fi
}

have_babel_client() { command -v socat >/dev/null 2>&1 || command -v nc >/dev/null 2>&1; }

babeld_pid() {
	[ -r "$BABELD_PIDFILE" ] || return 1
	pid=$(cat "$BABELD_PIDFILE" 2>/dev/null)
	valid_uint "$pid" && kill -0 "$pid" 2>/dev/null && printf '%s' "$pid"
}

babeld_running() {
	babeld_pid >/dev/null && return 0
	[ -S "$P_BABELD_SOCKET" ] && babel_ctl "" 2>/dev/null | grep -q '^ok'
}

# Tell the running babeld; a "no" or "bad" reply is an error.
babel_tell() { # lines...
	for line in "$@"; do
		if [ "$DRY" = 1 ]; then [ "$VERBOSE" = 1 ] && say "[would] babeld <- $line"; continue; fi
		[ "$VERBOSE" = 1 ] && say "[#] babeld <- $line"
		reply=$(babel_ctl "$line") || die "cannot talk to babeld at $P_BABELD_SOCKET"
		case $reply in *"
no"* | *"
bad"*) die "babeld refused '$line': $(printf '%s' "$reply" | tail -n 2 | tr '\n' ' ')" ;; esac
	done
}

# The config line babeld gets for a new interface: ours from babeld.conf, else the bare name.
babel_interface_line() {
	line=$(awk -v n="$1" '$1 == "interface" && $2 == n { print; exit }' "$P_BABELD_CONFIG" 2>/dev/null)
	printf '%s' "${line:-interface $1}"
}

start_babeld() {
	# shellcheck disable=SC2086
	if [ "$DRY" = 1 ]; then cmd $RUN_IF babeld -D -I "$BABELD_PIDFILE" -c "$P_BABELD_CONFIG"; return; fi
	rm -f "$BABELD_PIDFILE"
	# babeld is not running (we asked), so a socket file left by an earlier one is stale; babeld
	# would refuse to start with "Address already in use".
	[ -S "$P_BABELD_SOCKET" ] && cmd rm -f "$P_BABELD_SOCKET"
	[ "$VERBOSE" = 1 ] && say "[#] ${RUN_IF:+$RUN_IF }babeld -D -I $BABELD_PIDFILE -c $P_BABELD_CONFIG"
	# shellcheck disable=SC2086
	$RUN_IF babeld -D -I "$BABELD_PIDFILE" -c "$P_BABELD_CONFIG" </dev/null >"$STAGE/babeld.log" 2>&1 3>&- 4>&- ||
		die "babeld failed to start: $(tail -n 3 "$STAGE/babeld.log")"
	# -D returns before the daemon has read its config and opened its socket; it only counts as
	# started once it answers there.
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		if have_babel_client; then
			babel_ctl "" 2>/dev/null | grep -q '^ok' && return 0
		else
			babeld_pid >/dev/null && return 0
		fi
		sleep 0.1 2>/dev/null || sleep 1
	done
	die "babeld did not come up: $(tail -n 2 /var/log/babeld.log 2>/dev/null | tr '\n' ' ')"
}

stop_babeld() {
	pid=$(babeld_pid) || return 0
	cmd kill "$pid"
	[ "$DRY" = 1 ] && return 0
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 1
	done
	die "babeld (pid $pid) did not stop"
}

# What happened to babeld, or in check mode what would: started | updated | restarted |
# stopped | unchanged | not-running | disabled, prefixed "would-" in check mode.
babeld_result() { if [ "$DRY" = 1 ]; then BABELD=would-$1; else BABELD=$1; fi; }

# The interfaces the running babeld has configured.
babel_interfaces() { babel_ctl dump | awk '$1 == "add" && $2 == "interface" { print $3 }' | tr '\n' ' '; }

# Flush links from the running babeld (before they are deleted).
babel_forget() { # names...
	[ "$P_BABELD" = 1 ] && [ $# -gt 0 ] && have_babel_client && babeld_running || return 0
	for name; do babel_tell "flush interface $name"; done
	BABEL_TOLD=1
}

# Start babeld, or bring the running one to the planned interface set through its socket:
# also a kept link babeld lost (e.g. flushed by hand) is added again.
sync_babeld() {
	[ "$P_BABELD" = 1 ] || return 0
	if [ "$BABELD_MOVED" = 1 ]; then
		if [ "$MODE" = down ]; then babeld_result stopped; return; fi
		start_babeld
		babeld_result restarted
		return
	fi
	if ! babeld_running; then
		if [ "$MODE" = down ]; then BABELD=not-running; return; fi
		start_babeld
		babeld_result started
		return
	fi
	if ! have_babel_client; then
		if [ -z "$ADDED$REMOVED" ]; then BABELD=unchanged; return; fi
		# Without a socket client the only way to apply the new interface set is a restart.
		say "no socat or nc: restarting babeld to apply the interface changes"
		stop_babeld
		if [ "$MODE" = down ]; then babeld_result stopped; return; fi
		start_babeld
		babeld_result restarted
		return
	fi
	known=$(babel_interfaces)
	for name in $P_NAMES; do
		case " $known " in *" $name "*) continue ;; esac
		babel_tell "$(babel_interface_line "$name")"
		BABEL_TOLD=1
	done
	if [ "$MODE" = down ] && [ -z "$(babel_interfaces)" ]; then
		# Nothing left to route over: the mesh is down, so is its routing daemon.
		stop_babeld
		babeld_result stopped
	elif [ "$BABEL_TOLD" = 1 ]; then
		babeld_result updated
	else
		BABELD=unchanged
	fi
}

# ---------------------------------------------------------------- status

hash_of() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum <"$1" | awk '{ print $1 }'
	elif command -v openssl >/dev/null 2>&1; then
		openssl dgst -sha256 <"$1" | awk '{ print $NF }'
	else
		cksum <"$1" | awk '{ print "cksum:" $1 "-" $2 }'
	fi
}

config_hashes_json() {
	sep=
	for pair in "rait.conf=$P_CONFIG_DIR/rait.conf" "peers.conf=$P_CONFIG_DIR/peers.conf" \
		"babeld.conf=${P_BABELD_CONFIG:-$P_CONFIG_DIR/babeld.conf}"; do
		f=${pair#*=}
		[ -f "$f" ] || continue
		printf '%s"%s":"%s"' "$sep" "${pair%%=*}" "$(hash_of "$f")"
		sep=,
	done
}

# One LinkState per managed link, in ip's order, from the facts read once (read_facts). The
# dump's interface lines carry the private key: only peer lines are read here.
link_state_json() {
	awk -v now="$(date +%s)" -v group="$P_GROUP" -v prefix="$P_PREFIX" \
		-v wgfile="$STAGE/wg.dump" -v ipfile="$STAGE/ip.facts" '
	function esc(s) { gsub(/[^A-Za-z0-9+\/=_.:\[\]-]/, "", s); return s }
	function uint(s) { return (s ~ /^[0-9]+$/) ? s : 0 }
	FILENAME == wgfile && NF == 5 { lport[$1] = $4; next }
	FILENAME == wgfile && NF == 9 {
		if (!($1 in pub)) { pub[$1] = $2; ep[$1] = ($4 == "(none)") ? "" : $4; hs[$1] = $6; rx[$1] = $7; tx[$1] = $8 }
		next
	}
	FILENAME == ipfile && $3 ~ /^</ {
		n = $2; sub(/:$/, "", n); sub(/@.*/, "", n)
		g = ""; mtu = 0
		for (i = 4; i < NF; i++) {
			if ($i == "group") g = ($(i + 1) == "default") ? 0 : $(i + 1)
			else if ($i == "mtu") mtu = uint($(i + 1))
		}
		if (g != group || index(n, prefix) != 1) next
		age = "null"
		if (uint(hs[n]) > 0) { age = now - hs[n]; if (age < 0) age = 0 }
		printf "%s{\"name\":\"%s\",\"publicKey\":\"%s\",\"listenPort\":%s,\"endpoint\":\"%s\",", sep, esc(n), esc(pub[n]), uint(lport[n]), esc(ep[n])
		printf "\"handshakeAge\":%s,\"rxBytes\":%s,\"txBytes\":%s,\"mtu\":%s,\"up\":%s}", age, uint(rx[n]), uint(tx[n]), mtu, ($3 ~ /[<,]UP[,>]/) ? "true" : "false"
		sep = ","
	}' "$STAGE/wg.dump" "$STAGE/ip.facts"
}

# babeld's dump: neighbours and installed routes.
babel_json() {
	running=false
	dump=
	if [ "$P_BABELD" = 1 ] && babeld_running; then
		running=true
		dump=$(babel_ctl dump 2>/dev/null)
	fi
	printf '{"running":%s,"neighbours":[' "$running"
	printf '%s\n' "$dump" | awk '
	function esc(s) { gsub(/[^A-Za-z0-9_.:\/-]/, "", s); return s }
	$1 == "add" && $2 == "interface" { known[$3] = 1 }
	$1 == "add" && $2 == "neighbour" {
		split("", v)
		for (i = 4; i < NF; i += 2) v[$i] = $(i + 1)
		rtt = (v["rtt"] ~ /^[0-9]+(\.[0-9]+)?$/) ? v["rtt"] : "null"
		n++
		nif[n] = v["if"]
		line[n] = sprintf("{\"interface\":\"%s\",\"address\":\"%s\",\"rxcost\":%d,\"txcost\":%d,\"rtt\":%s,\"reach\":\"%s\"}", \
			esc(v["if"]), esc(v["address"]), v["rxcost"], v["txcost"], rtt, esc(v["reach"]))
	}
	# babeld keeps neighbours of a flushed interface around for a while: not live, not listed.
	END {
		for (i = 1; i <= n; i++) if (nif[i] in known) { printf "%s%s", sep, line[i]; sep = "," }
	}'
	routes=$(printf '%s\n' "$dump" | grep -c '^add route .* installed yes')
	printf '],"routes":%s}' "$routes"
}

version_of() { # program args...
	command -v "$1" >/dev/null 2>&1 || return 0
	"$@" 2>&1 | head -n 1 | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /[0-9]+\.[0-9]/) { sub(/^[^0-9v]*/, "", $i); print $i; exit } }'
}

status_wireguard() {
	first=$(facts_managed_links | head -n 1)
	if [ -n "$first" ]; then
		# shellcheck disable=SC2086
		case $($IP_IF -d -o link show dev "$first" 2>/dev/null) in
		*" wireguard "*) echo kernel ;;
		*) echo wireguard-go ;;
		esac
	elif [ -d /sys/module/wireguard ]; then
		echo kernel
	elif command -v wireguard-go >/dev/null 2>&1; then
		echo wireguard-go
	fi
}

report_status() {
	report_head
	printf ',"versions":{"wg":'
	json_str "$V_WG"
	printf ',"babeld":'
	json_str "$V_BABELD"
	printf ',"kernel":'
	json_str "$V_KERNEL"
	printf '},"configHashes":{%s},"links":[%s],"babel":%s}\n' "$S_HASHES" "$S_LINKS" "$S_BABEL"
}

status() {
	V_KERNEL=$(uname -r)
	V_WG=$(version_of wg --version)
	V_BABELD=$(version_of babeld -V)
	read_facts
	WG_IMPL=$(status_wireguard)
	S_HASHES=$(config_hashes_json)
	S_LINKS=$(link_state_json)
	S_BABEL=$(babel_json)
}

# ---------------------------------------------------------------- main

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	[ -n "$INSTALL_TMP" ] && rm -f "$INSTALL_TMP"
	[ -n "$STAGE" ] && rm -rf "$STAGE"
}

stage_payload() {
	command -v rf_payload >/dev/null 2>&1 || die "no payload: run through rait-fleet (stdin = rf_payload prelude + this script)"
	STAGE=$(mktemp -d) || die "mktemp -d failed"
	rf_payload "$STAGE" || die "cannot write the payload to $STAGE"
}

main() {
	# fd 3: the JSON report; fd 4: log; anything commands print goes to stderr.
	exec 3>&1 4>&2 1>&2 </dev/null
	MODE=${1:-}
	[ $# -gt 0 ] && shift
	case $MODE in
	deploy | down | status) ;;
	check) DRY=1 ;;
	*) say "usage: sh -s -- deploy|check|down|status [-v]"; exit 2 ;;
	esac
	for arg; do
		case $arg in
		-v) VERBOSE=1 ;;
		*) say "unknown option $arg"; exit 2 ;;
		esac
	done
	trap cleanup EXIT
	# A control process that dies does not stop us (sshd sends no signal without a tty): we run on
	# and get SIGPIPE when we report. Exit through cleanup then, or the staged private key stays.
	trap 'exit 1' INT TERM HUP PIPE
	stage_payload
	read_plan
	check_requirements
	[ "$MODE" = status ] || read_old_placement
	case $MODE in
	status) status ;;
	down)
		P_LINKS=
		P_NAMES=
		leave_old_placement
		sync_links
		sync_babeld
		record_placement
		;;
	*)
		sync_files
		leave_old_placement
		sync_links
		sync_babeld
		record_placement
		;;
	esac
	report
	exit 0
}

main "$@"
