# Where links and their UDP sockets live (RAIT's isolation). Each mode is one set of functions
# called through iso(): <mode>_prepare (namespaces or VRFs exist), <mode>_place (a new link goes
# where it lives) and <mode>_run (run a command beside the links: babeld). The wrappers run ip
# and wg on the interface side (_if) and on the transit side (_tr); cmd() prints them spelt out.

# netns names the wrappers use: set with netns isolation only (VRF devices live in this netns).
IF_NS=
TR_NS=
# The master every planned link must have: the interface VRF with vrf isolation, else none.
LINK_MASTER=

isolation_init() {
	case $P_ISOLATION in
	netns) IF_NS=$P_IFNS TR_NS=$P_TRANSIT ;;
	vrf) LINK_MASTER=$P_IFNS ;;
	esac
	return 0
}

in_ns() { # namespace command...: run it in that netns ("": here)
	if [ -n "$1" ]; then set -- ip netns exec "$@"; else shift; fi
	"$@"
}
ip_if() { ip ${IF_NS:+-n "$IF_NS"} "$@"; }
ip_tr() { ip ${TR_NS:+-n "$TR_NS"} "$@"; }
in_if() { in_ns "$IF_NS" "$@"; }
in_tr() { in_ns "$TR_NS" "$@"; }
wg_if() { in_if wg "$@"; }
# Beside the links: where the overlay's routing daemon runs.
in_mesh() { iso run "$@"; }

iso() { # step args...
	iso_step=$1
	shift
	"${P_ISOLATION}_$iso_step" "$@"
}

# Namespaces or VRFs are made (or checked) once per run, before the first link needs them.
PLACE_READY=0
prepare_place() {
	[ "$PLACE_READY" = 1 ] && return 0
	PLACE_READY=1
	iso prepare
}

# ---- none: links, sockets and babeld all in the current namespace.

none_prepare() { :; }
none_place() { :; }
none_run() { "$@"; }

# ---- netns: links are made in the transit namespace, so their UDP sockets stay there, then
# moved into the interface namespace, where the overlay's routing (babeld) runs.

# Where `ip netns add` mounts named namespaces, and where sysfs lists this netns' links (test
# seams, like RF_OS_RELEASE).
NETNS_DIR=${RF_NETNS_DIR:-/run/netns}
SYS_NET=${RF_SYS_NET:-/sys/class/net}
PROC_SYS=${RF_PROC_SYS:-/proc/sys}

netns_prepare() {
	for ns in $TR_NS $IF_NS; do
		[ -e "$NETNS_DIR/$ns" ] && continue
		cmd ip netns add "$ns"
		# A new namespace's loopback is down; what runs there (babeld) may need it.
		cmd ip -n "$ns" link set lo up
		made netns "$ns"
	done
	return 0
}

netns_place() { # name
	if [ -n "$IF_NS" ]; then
		cmd ip_tr link set dev "$1" netns "$IF_NS"
	elif [ -n "$TR_NS" ]; then
		cmd ip_tr link set dev "$1" netns $$
	fi
	return 0
}

netns_run() { in_if "$@"; }

# ---- vrf: links are enslaved to the interface VRF (decide.sh plans "master"); WireGuard's own
# UDP traffic, marked with the fwmark, is routed by the transit VRF's table.

vrf_prepare() {
	[ -n "$P_IFNS" ] && ensure_vrf "$P_IFNS"
	[ -n "$P_TRANSIT" ] || return 0
	ensure_vrf "$P_TRANSIT"
	table=$(ip -d -o link show dev "$P_TRANSIT" 2>/dev/null | sed -n 's/.* vrf table \([0-9]*\).*/\1/p')
	[ -n "$table" ] || table=$(vrf_table "$P_TRANSIT")
	TRANSIT_TABLE=$table
	[ -n "$(ip rule list fwmark "$P_FWMARK" table "$table" 2>/dev/null)" ] || {
		cmd ip rule add fwmark "$P_FWMARK" table "$table"
		made rule "$P_FWMARK" "$table"
	}
	[ -n "$(ip -6 rule list fwmark "$P_FWMARK" table "$table" 2>/dev/null)" ] || {
		cmd ip -6 rule add fwmark "$P_FWMARK" table "$table"
		made rule6 "$P_FWMARK" "$table"
	}
	vrf_unreachable 4 unreach
	vrf_unreachable 6 unreach6
	vrf_accept_udp
}

# Marked traffic the transit table has no route for would fall through to the next rules (the main
# table) and leave outside the VRF, from the wrong address, until the underlay is there: an
# unreachable default ends the lookup in the VRF (the kernel's VRF documentation recommends it).
# With the highest metric, so that any real default of the VRF wins.
UNREACHABLE_METRIC=4278198272
vrf_unreachable() { # family kind
	[ -n "$(ip -"$1" route list table "$TRANSIT_TABLE" type unreachable default 2>/dev/null)" ] && return 0
	cmd ip -"$1" route add table "$TRANSIT_TABLE" unreachable default metric "$UNREACHABLE_METRIC"
	made "$2" "$TRANSIT_TABLE"
}

# WireGuard's sockets are bound to no VRF, so the replies that arrive on a slave of the transit VRF
# (its underlay) reach them only with udp_l3mdev_accept=1 (one switch for IPv4 and IPv6). Set as
# wg-quick sets src_valid_mark for its fwmark routing: the mesh cannot work without it.
vrf_accept_udp() {
	va_file=$PROC_SYS/net/ipv4/udp_l3mdev_accept
	# Not read: sysctl files answer only a read from offset 0, and sh's read takes a byte at a time.
	[ "$(cat "$va_file" 2>/dev/null)" = 0 ] || return 0
	if [ "$DRY" = 1 ]; then
		note "would set net.ipv4.udp_l3mdev_accept=1: WireGuard's sockets must receive what arrives on the transit VRF $P_TRANSIT"
		return 0
	fi
	trace sysctl -w net.ipv4.udp_l3mdev_accept=1
	{ echo 1 >"$va_file"; } 2>/dev/null ||
		die "cannot set net.ipv4.udp_l3mdev_accept=1, which WireGuard's sockets need to receive on the transit VRF $P_TRANSIT"
	note "set net.ipv4.udp_l3mdev_accept=1: WireGuard's sockets receive what arrives on the transit VRF $P_TRANSIT (make it permanent in /etc/sysctl.d)"
}

vrf_place() { :; }
vrf_run() { "$@"; }

# A stable routing table for VRF $1 (only used when we create the device).
vrf_table() { printf '%s' "$1" | cksum | awk '{ print 1000 + $1 % 1000000 }'; }

ensure_vrf() { # name
	[ -d "$SYS_NET/$1" ] && return 0
	trace ip link add "$1" type vrf table "$(vrf_table "$1")" || return 0
	ip link add "$1" type vrf table "$(vrf_table "$1")" ||
		die "kernel has no VRF support (ip link add $1 type vrf failed)"
	made vrf "$1"
	cmd ip link set dev "$1" up
}

# ---- What the agent made besides links: namespaces, VRF devices, fwmark rules, the transit table's
# unreachable defaults. Recorded in <config_dir>/made ("kind name [table]" lines) so that they go
# again once no plan needs them (down, or a move elsewhere), and nothing the operator made is ever
# removed.

# The transit VRF's table, once vrf_prepare has looked it up.
TRANSIT_TABLE=
MADE_NEW=

made() { # kind name [table]
	MADE_NEW="$MADE_NEW$*
"
}

# The plan still needs it.
still_needed() { # kind name [table]
	[ "$MODE" = down ] && return 1
	case $P_ISOLATION:$1 in
	netns:netns | vrf:vrf) [ "$2" = "$P_IFNS" ] || [ "$2" = "$P_TRANSIT" ] ;;
	vrf:rule | vrf:rule6) [ "$2" = "$P_FWMARK" ] && [ "$3" = "$TRANSIT_TABLE" ] ;;
	vrf:unreach | vrf:unreach6) [ "$2" = "$TRANSIT_TABLE" ] ;;
	*) return 1 ;;
	esac
}

# Removes one made thing when nothing of anyone else's is in it; false when it stays.
unmake() { # kind name [table]
	case $1 in
	netns)
		[ -e "$NETNS_DIR/$2" ] || return 0
		[ "$(ip -n "$2" -o link show 2>/dev/null | grep -vc ': lo:')" = 0 ] || return 1
		try ip netns del "$2"
		;;
	vrf)
		[ -d "$SYS_NET/$2" ] || return 0
		[ -z "$(ip -o link show master "$2" 2>/dev/null)" ] || return 1
		try ip link del dev "$2"
		;;
	rule) try ip rule del fwmark "$2" table "$3" ;;
	rule6) try ip -6 rule del fwmark "$2" table "$3" ;;
	unreach) try ip -4 route del table "$2" unreachable default metric "$UNREACHABLE_METRIC" ;;
	unreach6) try ip -6 route del table "$2" unreachable default metric "$UNREACHABLE_METRIC" ;;
	*) return 0 ;;
	esac
}

# After the links and babeld: what was made for an earlier plan and is no longer needed goes.
sync_made() {
	sm_file=$P_CONFIG_DIR/made
	[ -n "$MADE_NEW" ] || [ -f "$sm_file" ] || return 0
	sm_keep=
	{ cat "$sm_file" 2>/dev/null; printf '%s' "$MADE_NEW"; } | sort -u >"$STAGE/made.all"
	while read -r sm_kind sm_name sm_table; do
		[ -n "$sm_kind" ] || continue
		if still_needed "$sm_kind" "$sm_name" "$sm_table" || ! unmake "$sm_kind" "$sm_name" "$sm_table"; then
			sm_keep="$sm_keep$sm_kind $sm_name${sm_table:+ $sm_table}
"
		fi
	done <"$STAGE/made.all"
	[ "$DRY" = 1 ] && return 0
	printf '%s' "$sm_keep" >"$STAGE/made"
	cmp -s "$STAGE/made" "$sm_file" && return 0
	if [ -s "$STAGE/made" ]; then write_atomic "$sm_file" 0644 <"$STAGE/made"; else cmd rm -f "$sm_file"; fi
}
