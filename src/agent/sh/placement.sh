# What the links were last made as: "isolation interface-namespace transit-namespace prefixes
# group" (the prefixes comma-separated: one per family of a dual-stack mesh), recorded in
# <config_dir>/placement after each deploy or down. When the plan's differs, the old links are
# removed first: at their old place they would keep their UDP ports (and, with the same prefix,
# their names) and block the new ones; with another prefix or ifgroup they would no longer count as
# ours and stay forever. When only prefixes changed, the links of the prefixes kept stay.

# OLD_*: the recorded links that must go (OLD_PREFIX: their prefixes, space-separated); OLD_NS:
# the netns holding them ("": here).
OLD_PLACEMENT=
OLD_NS=
OLD_PREFIX=
OLD_GROUP=
MOVING=0
# The links leave their namespace or VRF (babeld, which runs beside them, moves too).
PLACE_MOVED=0

# The plan's: where the links go, its prefixes, the whole record, and its file (set once the plan
# is read).
PLACE=
PLACE_PREFIXES=
PLACEMENT=
PLACEMENT_FILE=
# The record as this run found it ("": none).
RECORDED_PLACEMENT=

placement_init() {
	PLACE="$P_ISOLATION ${P_IFNS:--} ${P_TRANSIT:--}"
	# The prefixes are one word of the record, comma-separated.
	PLACE_PREFIXES=
	for pi_p in $P_PREFIX; do PLACE_PREFIXES=${PLACE_PREFIXES:+$PLACE_PREFIXES,}$pi_p; done
	PLACEMENT="$PLACE $PLACE_PREFIXES $P_GROUP"
	PLACEMENT_FILE=$P_CONFIG_DIR/placement
}

ip_old() { ip ${OLD_NS:+-n "$OLD_NS"} "$@"; }

# Read (and checked) before anything changes. A record of an older rait-fleet has no prefix
# and group: they were the plan's then as now.
read_old_placement() {
	[ -r "$PLACEMENT_FILE" ] || return 0
	read -r old_iso old_ifns old_tr old_prefix old_group old_rest <"$PLACEMENT_FILE" || :
	RECORDED_PLACEMENT="$old_iso $old_ifns $old_tr $old_prefix $old_group${old_rest:+ $old_rest}"
	old_prefix=${old_prefix:-$PLACE_PREFIXES}
	old_group=${old_group:-$P_GROUP}
	[ "$old_iso $old_ifns $old_tr $old_prefix $old_group" = "$PLACEMENT" ] && return 0
	case $old_iso in none | netns | vrf) ;; *) die "$PLACEMENT_FILE: unreadable placement record; remove it" ;; esac
	{ valid_ns "$old_ifns" && valid_ns "$old_tr"; } || die "$PLACEMENT_FILE: bad namespace name; remove it"
	{ valid_uint "$old_group" && [ -z "${old_rest:-}" ]; } || die "$PLACEMENT_FILE: unreadable placement record; remove it"
	rp_ifs=$IFS
	IFS=,
	# shellcheck disable=SC2086 # the comma-separated prefixes, one argument each
	set -- $old_prefix
	IFS=$rp_ifs
	old_prefixes="$*"
	for rop; do
		valid_prefix "$rop" || die "$PLACEMENT_FILE: unreadable placement record; remove it"
	done
	OLD_PLACEMENT="$old_iso $old_ifns $old_tr $old_prefix $old_group"
	OLD_GROUP=$old_group
	[ "$old_iso $old_ifns $old_tr" = "$PLACE" ] || PLACE_MOVED=1
	[ "$old_iso" = netns ] && [ "$old_ifns" != - ] && OLD_NS=$old_ifns
	if [ "$PLACE_MOVED" = 0 ] && [ "$old_group" = "$P_GROUP" ]; then
		# Only prefixes changed: the links of a prefix the plan keeps are still ours, where they are.
		OLD_PREFIX=
		for rop in $old_prefixes; do
			case " $P_PREFIX " in *" $rop "*) ;; *) OLD_PREFIX="$OLD_PREFIX $rop" ;; esac
		done
		[ -n "$OLD_PREFIX" ] || return 0
	else
		OLD_PREFIX=$old_prefixes
	fi
	MOVING=1
	return 0
}

# The recorded links: its prefix and ifgroup, and a WireGuard kind, at its place.
old_links() {
	ip_old -d -o link show 2>/dev/null | awk -v PREFIX="$OLD_PREFIX" -v GROUP="$OLD_GROUP" "$FACTS_AWK"'
	link_line() && has_prefix(L_NAME, PREFIX) && L_GROUP == GROUP && (L_KIND == "wireguard" || L_KIND == "tun") { print L_NAME }'
}

leave_old_placement() {
	[ "$MOVING" = 1 ] || return 0
	say "links change from '$OLD_PLACEMENT' to '$PLACEMENT': removing them where they were first"
	moved=$(old_links)
	if [ "$PLACE_MOVED" = 1 ]; then
		if [ "$P_BABELD" = 1 ] && [ "$P_BABELD_MANAGE" = agent ] && babeld_pid >/dev/null; then
			stop_babeld
			BABELD_MOVED=1
		fi
	else
		# shellcheck disable=SC2086 # a list of interface names
		babel_forget $moved
	fi
	for name in $moved; do
		cmd ip_old link del dev "$name"
	done
	REMOVED="$REMOVED $(printf '%s' "$moved" | tr '\n' ' ')"
	# shellcheck disable=SC2086 # a list of interface names
	[ "$DRY" = 0 ] && wait_wireguard_go_gone $moved
	return 0
}

record_placement() {
	[ "$DRY" = 1 ] && return 0
	[ -d "$P_CONFIG_DIR" ] || return 0
	[ "$RECORDED_PLACEMENT" = "$PLACEMENT" ] && return 0
	printf '%s\n' "$PLACEMENT" | write_atomic "$PLACEMENT_FILE" 0644
}
