# Where the links live: "isolation interface-namespace transit-namespace", recorded in
# <config_dir>/placement after each deploy or down. When the plan's place differs from the
# recorded one, the links are first removed where they were (and babeld stopped beside them):
# there they would keep their names and UDP ports and block the new ones.

# The recorded place when the links must move; OLD_NS: the netns holding them there ("": here).
OLD_PLACEMENT=
OLD_NS=
MOVING=0

placement() { printf '%s %s %s\n' "$P_ISOLATION" "${P_IFNS:--}" "${P_TRANSIT:--}"; }
placement_file() { printf '%s/placement' "$P_CONFIG_DIR"; }

ip_old() { ip ${OLD_NS:+-n "$OLD_NS"} "$@"; }

# Read (and checked) before anything changes.
read_old_placement() {
	[ -r "$(placement_file)" ] || return 0
	read -r old_iso old_ifns old_tr <"$(placement_file)" || :
	[ "$old_iso $old_ifns $old_tr" = "$(placement)" ] && return 0
	case $old_iso in none | netns | vrf) ;; *) die "$(placement_file): unreadable placement record; remove it" ;; esac
	{ valid_ns "$old_ifns" && valid_ns "$old_tr"; } || die "$(placement_file): bad namespace name; remove it"
	OLD_PLACEMENT="$old_iso $old_ifns $old_tr"
	MOVING=1
	[ "$old_iso" = netns ] && [ "$old_ifns" != - ] && OLD_NS=$old_ifns
	return 0
}

# Our links at the recorded place: prefix, ifgroup, and a WireGuard kind.
old_links() {
	ip_old -d -o link show 2>/dev/null | awk -v PREFIX="$P_PREFIX" -v GROUP="$P_GROUP" "$FACTS_AWK"'
	link_line() && index(L_NAME, PREFIX) == 1 && L_GROUP == GROUP && (L_KIND == "wireguard" || L_KIND == "tun") { print L_NAME }'
}

leave_old_placement() {
	[ "$MOVING" = 1 ] || return 0
	say "links move from '$OLD_PLACEMENT' to '$(placement)': removing them where they were"
	if [ "$P_BABELD" = 1 ] && babeld_pid >/dev/null; then
		stop_babeld
		BABELD_MOVED=1
	fi
	moved=
	for name in $(old_links); do
		cmd ip_old link del dev "$name"
		moved="$moved $name"
	done
	REMOVED="$REMOVED$moved"
	# shellcheck disable=SC2086 # a list of interface names
	[ "$WG_IMPL" = wireguard-go ] && [ "$DRY" = 0 ] && wait_wireguard_go_gone $moved
	return 0
}

record_placement() {
	[ "$DRY" = 1 ] && return 0
	[ -d "$P_CONFIG_DIR" ] || return 0
	[ "$(cat "$(placement_file)" 2>/dev/null)" = "$(placement)" ] && return 0
	placement >"$STAGE/placement"
	write_atomic "$(placement_file)" 0644 <"$STAGE/placement"
}
