# Persistence: the mesh outlives reboots and crashes without the control machine. A deploy leaves
# this script beside the plan it applied (<config_dir>/rait-fleet-agent, <config_dir>/plan), and
# where systemd runs, units that apply it at boot (rait-fleet.service) and again every
# heal_interval (rait-fleet-heal.timer), repairing what broke and leaving healthy links alone.
# down disarms it: units disabled and removed, the stored plan marked down. Every run on the node
# alone is logged, so status can tell when a node last healed itself and how often that changed
# something.

# systemd (units installed) or none, for the report.
PERSISTENCE=
# Test seams: where systemd says it runs, and where units go.
SYSTEMD_RUN=${RF_SYSTEMD_RUN:-/run/systemd/system}
UNIT_DIR=${RF_UNIT_DIR:-/etc/systemd/system}
UNITS="rait-fleet.service rait-fleet-heal.service rait-fleet-heal.timer rait-fleet-pull.service rait-fleet-pull.timer"
# Runs of apply on the node alone: "epoch kind changed(0|1) added=... updated=... removed=...".
APPLIED_LOG=$STATE_DIR/applied.log

has_systemd() { [ -d "$SYSTEMD_RUN" ]; }

# The agent and, with systemd, its units; only what differs is written, and units are enabled
# only when they are not yet.
install_persistence() {
	install_file rait-fleet-agent "$P_CONFIG_DIR/rait-fleet-agent" 0755
	ip_agent=$FILE_CHANGED
	if ! has_systemd; then
		PERSISTENCE=none
		[ "$ip_agent" = 1 ] && note "no systemd here, so nothing brings the mesh back after a reboot: run '$P_CONFIG_DIR/rait-fleet-agent apply --boot' at boot (README: Persistence)"
		return 0
	fi
	PERSISTENCE=systemd
	ip_reload=0
	for unit in $UNITS; do
		if [ -f "$STAGE/$unit" ]; then
			install_file "$unit" "$UNIT_DIR/$unit" 0644
			[ "$FILE_CHANGED" = 1 ] && ip_reload=1
		elif [ -f "$UNIT_DIR/$unit" ]; then
			# No longer planned (heal_interval 0).
			cmd systemctl disable --now "$unit"
			cmd rm -f "$UNIT_DIR/$unit"
			ip_reload=1
		fi
	done
	[ "$ip_reload" = 1 ] && cmd systemctl daemon-reload
	[ -e "$UNIT_DIR/multi-user.target.wants/rait-fleet.service" ] || cmd systemctl enable rait-fleet.service
	for timer in rait-fleet-heal.timer rait-fleet-pull.timer; do
		if [ -f "$STAGE/$timer" ] && [ ! -e "$UNIT_DIR/timers.target.wants/$timer" ]; then
			cmd systemctl enable --now "$timer"
		fi
	done
	return 0
}

# down: nothing may bring the mesh back.
disarm_persistence() {
	has_systemd || return 0
	dp_units=
	for unit in rait-fleet-pull.timer rait-fleet-heal.timer rait-fleet.service; do
		[ -f "$UNIT_DIR/$unit" ] && dp_units="$dp_units $unit"
	done
	[ -n "$dp_units" ] || return 0
	# shellcheck disable=SC2086 # a list of unit names
	cmd systemctl disable --now $dp_units
	for unit in $UNITS; do
		[ -f "$UNIT_DIR/$unit" ] && cmd rm -f "$UNIT_DIR/$unit"
	done
	cmd systemctl daemon-reload
}

# Where the last deploy put the agent and its records (<STATE_DIR>/config_dir). When config_dir
# changes, the records of where the links live come along first, and the old agent, plan and
# config files go at the end (the units point at the new place): nothing is left to run the old
# plan, and no copy of the private key stays behind.
CONFIG_DIR_RECORD=$STATE_DIR/config_dir
OLD_CONFIG_DIR=
# The record as this run found it.
RECORDED_CONFIG_DIR=

adopt_config_dir() {
	read -r RECORDED_CONFIG_DIR 2>/dev/null <"$CONFIG_DIR_RECORD" || :
	OLD_CONFIG_DIR=$RECORDED_CONFIG_DIR
	if [ "$OLD_CONFIG_DIR" = "$P_CONFIG_DIR" ] || ! valid_path "$OLD_CONFIG_DIR" || [ ! -d "$OLD_CONFIG_DIR" ]; then
		OLD_CONFIG_DIR=
		return 0
	fi
	say "config_dir moves from $OLD_CONFIG_DIR to $P_CONFIG_DIR"
	[ "$DRY" = 1 ] && return 0
	ensure_dir "$P_CONFIG_DIR"
	for record in placement made; do
		[ -f "$OLD_CONFIG_DIR/$record" ] && [ ! -f "$P_CONFIG_DIR/$record" ] && cmd cp "$OLD_CONFIG_DIR/$record" "$P_CONFIG_DIR/$record"
	done
	return 0
}

leave_old_config_dir() {
	[ "$DRY" = 1 ] && return 0
	if [ -n "$OLD_CONFIG_DIR" ]; then
		for file in rait-fleet-agent plan placement made rait.conf rait-ip4.conf rait-ip6.conf peers.conf babeld.conf; do
			for old in "$OLD_CONFIG_DIR/$file" "$OLD_CONFIG_DIR/$file.prev"; do
				[ -e "$old" ] && cmd rm -f "$old"
			done
		done
		rmdir "$OLD_CONFIG_DIR" 2>/dev/null || :
	fi
	[ -d "$STATE_DIR" ] || mkdir -p "$STATE_DIR" || return 0
	[ "$RECORDED_CONFIG_DIR" = "$P_CONFIG_DIR" ] || printf '%s\n' "$P_CONFIG_DIR" >"$CONFIG_DIR_RECORD"
}

# The directory of this script, absolute: config_dir, when it runs on the node alone (also when
# started as ./rait-fleet-agent there). Call it as $(agent_dir): it changes directory.
agent_dir() {
	ad_dir=${0%/*}
	[ "$ad_dir" = "$0" ] && ad_dir=.
	CDPATH='' cd -- "$ad_dir" && pwd
}

# For apply on the node alone: the stored plan, and the private key, into a new private stage.
stage_stored() {
	ss_dir=$(agent_dir)
	[ -r "$ss_dir/plan" ] || die "no plan beside $0: deploy this node with rait-fleet first"
	STAGE=$(mktemp -d) || die "mktemp -d failed"
	# Read where it is: apply never writes the stored plan (record_run), so no copy is needed.
	PLAN_FILE=$ss_dir/plan
	[ "$MODE" = status ] && return 0
	stage_private_key "$ss_dir"
}

# The private key from <dir>/rait.conf, the only copy of it on the node, into the stage.
stage_private_key() { # dir
	spk_key=
	# A few short lines: read by the shell, not a sed process.
	[ -r "$1/rait.conf" ] && while IFS= read -r spk_line; do
		case $spk_line in 'PrivateKey = "'*'"') spk_key=${spk_line#'PrivateKey = "'} && spk_key=${spk_key%'"'} ;; esac
	done <"$1/rait.conf"
	valid_key "$spk_key" || die "no private key in $1/rait.conf: deploy this node with rait-fleet again"
	printf '%s\n' "$spk_key" >"$STAGE/private.key"
}

# One line per run on the node alone; the log keeps its last 500 lines. One awk does it all.
log_applied() { # kind
	[ "$DRY" = 1 ] && return 0
	la_changed=0
	[ -n "$ADDED$UPDATED$REMOVED$FAILED_LINES" ] && la_changed=1
	case $BABELD in started | restarted) la_changed=1 ;; esac
	[ -d "$STATE_DIR" ] || mkdir -p "$STATE_DIR" || return 0
	printf '%s' "$FAILED_LINES" | awk -v kind="$1" -v changed="$la_changed" -v added="$ADDED" -v updated="$UPDATED" \
		-v removed="$REMOVED" -v logfile="$APPLIED_LOG" "$EPOCH_AWK"'
	function csv(s) { gsub(/^ +| +$/, "", s); gsub(/ +/, ",", s); return s }
	{ failed = failed sep $1; sep = "," }
	END {
		printf "%d %s %s added=%s updated=%s removed=%s failed=%s\n", epoch(), kind, changed, csv(added), csv(updated), csv(removed), failed >>logfile
		close(logfile)
		while ((getline line <logfile) > 0) kept[++n] = line
		close(logfile)
		if (n <= 500) exit
		for (i = n - 249; i <= n; i++) print kept[i] >logfile
	}'
}

# For status: how the mesh comes back here, and what the node did on its own lately.
persistence_json() {
	if has_systemd; then
		pj_via=systemd
		pj_enabled=false
		[ -e "$UNIT_DIR/multi-user.target.wants/rait-fleet.service" ] && pj_enabled=true
	else
		pj_via=none
		pj_enabled=false
	fi
	printf '{"via":"%s","enabled":%s,' "$pj_via" "$pj_enabled"
	if [ ! -f "$APPLIED_LOG" ]; then
		printf '"lastRun":null,"lastKind":null,"healsChanged":0,"lastHealChange":""}'
		return
	fi
	# The last run, and the heals of the last 24 h that had to make or fix a link.
	awk "$EPOCH_AWK"'
	BEGIN { now = epoch() }
	function names(s) { sub(/^[a-z]+=/, "", s); gsub(/[^A-Za-z0-9_,-]/, "", s); return s }
	$1 ~ /^[0-9]+$/ && NF >= 5 {
		last = $1; kind = $2
		if ($2 == "heal" && $3 == 1 && now - $1 < 86400) { n++; what = names($4) (names($4) != "" && names($5) != "" ? "," : "") names($5) }
	}
	END {
		if (last == "") printf "\"lastRun\":null,\"lastKind\":null,\"healsChanged\":0,\"lastHealChange\":\"\"}"
		else printf "\"lastRun\":%d,\"lastKind\":\"%s\",\"healsChanged\":%d,\"lastHealChange\":\"%s\"}", last, kind, n, what
	}' "$APPLIED_LOG"
}
