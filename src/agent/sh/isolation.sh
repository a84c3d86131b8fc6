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

# Where `ip netns add` mounts named namespaces (a test seam, like RF_OS_RELEASE).
NETNS_DIR=${RF_NETNS_DIR:-/run/netns}

netns_prepare() {
	for ns in $TR_NS $IF_NS; do
		[ -e "$NETNS_DIR/$ns" ] || cmd ip netns add "$ns"
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
	[ -n "$(ip rule list fwmark "$P_FWMARK" table "$table" 2>/dev/null)" ] ||
		cmd ip rule add fwmark "$P_FWMARK" table "$table"
	[ -n "$(ip -6 rule list fwmark "$P_FWMARK" table "$table" 2>/dev/null)" ] ||
		cmd ip -6 rule add fwmark "$P_FWMARK" table "$table"
	return 0
}

vrf_place() { :; }
vrf_run() { "$@"; }

# A stable routing table for VRF $1 (only used when we create the device).
vrf_table() { printf '%s' "$1" | cksum | awk '{ print 1000 + $1 % 1000000 }'; }

ensure_vrf() { # name
	[ -d "/sys/class/net/$1" ] && return 0
	trace ip link add "$1" type vrf table "$(vrf_table "$1")" || return 0
	ip link add "$1" type vrf table "$(vrf_table "$1")" ||
		die "kernel has no VRF support (ip link add $1 type vrf failed)"
	cmd ip link set dev "$1" up
}
