# Magic rollback: a deploy that may cut the node off must be confirmed, or it is undone here.
# With --snapshot ID, deploy keeps what it is about to replace (the previous plan and the files it
# installs) in a snapshot before its first change, and arms a dead-man switch (--switch S): a
# transient systemd timer, or a detached process where systemd does not run, that restores the
# snapshot after S seconds. The control machine confirms over a new SSH connection (confirm) or
# restores at once (rollback). A snapshot and its switch belong to one deploy id: nothing else ever
# restores it. docs/agent-protocol.md, "Rollback", has the protocol and the files.

# --snapshot ID, --switch S (deploy), --after S (the detached switch: sleep, then restore);
# --restore ID: this deploy or down restores that snapshot (it keeps and discards none).
RESTORING=
SNAP_ID=
SNAP_SWITCH=0
SNAP_AFTER=
# The snapshot of this run was taken (or an unconfirmed one taken over); how its switch runs.
SNAP_ARMED=0
SNAP_SWITCH_KIND=
# Snapshots, one directory per deploy id, and the reports of the restores done (<id>.report).
SNAP_ROOT=$STATE_DIR/rollback
# confirm: confirmed | absent | rolled-back | rolling-back
CONFIRM_STATE=
# The rollback report: who restored (control, switch, none), to what (previous, down, none), and
# the restoring run's own report (a file).
RB_BY=none
RB_RESTORED=none
RB_REPORT=

valid_snapshot_id() {
	case $1 in '' | -* | *[!A-Za-z0-9-]*) return 1 ;; esac
	[ ${#1} -le 64 ]
}

snap_dir() { printf '%s/%s' "$SNAP_ROOT" "$1"; }
# The snapshot directories there are, one a line (their names are deploy ids: no spaces); with
# "all", also those a run that was cut off left half made.
snapshot_dirs() {
	[ -d "$SNAP_ROOT" ] || return 0
	set +f
	for sd_dir in "$SNAP_ROOT"/*/ ${1:+"$SNAP_ROOT"/.new-*/}; do [ -d "$sd_dir" ] && printf '%s\n' "${sd_dir%/}"; done
	set -f
}
# The snapshot waits for its confirmation. Read by the shell, not a cat in a subshell: a no-op
# deploy after a confirmed one starts no process for it.
snap_pending() {
	sp_state=
	read -r sp_state 2>/dev/null <"$1/state" || :
	[ "$sp_state" = pending ]
}
# The plan of the last deploy, where the recorded config_dir (or this plan's) keeps it.
previous_config_dir() {
	pc_dir=$(cat "$CONFIG_DIR_RECORD" 2>/dev/null)
	if valid_path "$pc_dir" && [ -f "$pc_dir/plan" ]; then printf '%s' "$pc_dir"; else printf '%s' "$P_CONFIG_DIR"; fi
}

plan_value() { sed -n "s/^$1 \([^ ]*\)\$/\1/p" "$2" | head -n 1; }

# A snapshot of what this deploy replaces, in $1: the previous plan and the files deploy installs
# from it, as a stage a deploy can apply again (kind deploy); or, for a node that had no plan (or
# one taken down), the plan to take it down with (kind down). The records of what the node holds
# now (placement, made) are not kept: they must describe the node as it is when the snapshot is
# restored, so that the restore removes what this deploy made.
fill_snapshot() { # dir
	fs_prev=$(previous_config_dir)
	mkdir -m 0700 "$1/stage" || die "cannot write a snapshot in $1"
	if [ ! -f "$fs_prev/plan" ] || [ "$(plan_value state "$fs_prev/plan")" = down ]; then
		# A down plan as rait-fleet writes one: no links, and "state down", so that a restore
		# stores a plan that brings nothing back at boot.
		if [ -f "$fs_prev/plan" ]; then
			cp "$fs_prev/plan" "$1/stage/plan"
		else
			awk '$1 != "link" && $1 != "state" { print } END { print "state down" }' "$PLAN_FILE" >"$1/stage/plan"
		fi || die "cannot write a snapshot in $1"
		echo down >"$1/kind"
		return 0
	fi
	grep -q '^PrivateKey = ' "$fs_prev/rait.conf" 2>/dev/null || die "cannot keep the previous state: no key in $fs_prev/rait.conf"
	for file in plan rait.conf rait-ip4.conf rait-ip6.conf peers.conf rait-fleet-agent pull; do
		[ -f "$fs_prev/$file" ] && { cp -p "$fs_prev/$file" "$1/stage/$file" || die "cannot copy $fs_prev/$file into a snapshot"; }
	done
	fs_babeld=$(plan_value babeld_config "$fs_prev/plan")
	if [ "$(plan_value babeld "$fs_prev/plan")" = 1 ] && valid_path "$fs_babeld" && [ -f "$fs_babeld" ]; then
		cp -p "$fs_babeld" "$1/stage/babeld.conf" || die "cannot copy $fs_babeld into a snapshot"
	fi
	if has_systemd; then
		for unit in $UNITS; do
			[ -f "$UNIT_DIR/$unit" ] && { cp -p "$UNIT_DIR/$unit" "$1/stage/$unit" || die "cannot copy $UNIT_DIR/$unit into a snapshot"; }
		done
	fi
	echo deploy >"$1/kind"
}

# Called by trace() before the first change of a deploy run with --snapshot: takes the snapshot
# (or takes over the unconfirmed one of an earlier deploy) and arms the switch.
arm_before_change() {
	[ "$MODE" = deploy ] && [ -n "$SNAP_ID" ] && [ "$SNAP_ARMED" = 0 ] || return 0
	SNAP_ARMED=1
	[ -d "$SNAP_ROOT" ] || cmd mkdir -p -m 0700 "$SNAP_ROOT"
	ab_dir=$(snap_dir "$SNAP_ID")
	find_pending
	ab_old=$PENDING_ID
	if [ -n "$ab_old" ]; then
		# The earlier deploy was never confirmed: a rollback goes back to the state before it.
		disarm_switch "$(snap_dir "$ab_old")"
		cmd mv "$(snap_dir "$ab_old")" "$ab_dir"
		note "deploy $ab_old was not confirmed here: a rollback of this deploy goes back to the state before it"
	else
		discard_snapshots
		cmd mkdir -m 0700 "$SNAP_ROOT/.new-$SNAP_ID"
		fill_snapshot "$SNAP_ROOT/.new-$SNAP_ID"
		cmd mv "$SNAP_ROOT/.new-$SNAP_ID" "$ab_dir"
	fi
	echo pending >"$ab_dir/state"
	cmd cp "$0" "$ab_dir/agent"
	arm_switch "$ab_dir"
}

# PENDING_ID: an earlier deploy's snapshot still waiting for its confirmation. A rollback running
# stops the run before it changes anything.
PENDING_ID=
find_pending() {
	PENDING_ID=
	for fp_dir in $(snapshot_dirs); do
		[ -d "$fp_dir/claimed" ] && die "a rollback of deploy ${fp_dir##*/} is running on this node: deploy again when it is done"
		snap_pending "$fp_dir" && PENDING_ID=${fp_dir##*/}
	done
	return 0
}

# A deploy that finds an unconfirmed one takes it over at once, also when it changes nothing
# itself: its confirmation then confirms both, and its switch replaces the other's.
take_over_unconfirmed() {
	[ -n "$SNAP_ID" ] || return 0
	find_pending
	[ -n "$PENDING_ID" ] && [ "$PENDING_ID" != "$SNAP_ID" ] && arm_before_change
	return 0
}

# The switch: after S seconds, "rollback" of this snapshot, unless it was confirmed.
arm_switch() { # dir
	rm -f "$1/switch"
	if [ "$SNAP_SWITCH" = 0 ]; then
		SNAP_SWITCH_KIND=none
		return 0
	fi
	if has_systemd; then
		SNAP_SWITCH_KIND=systemd
		cmd systemd-run --quiet --collect --unit "rait-fleet-rollback-$SNAP_ID" --on-active "$SNAP_SWITCH" \
			--timer-property AccuracySec=1s sh "$1/agent" rollback --snapshot "$SNAP_ID" --after 0 -v
		echo "systemd rait-fleet-rollback-$SNAP_ID" >"$1/switch"
		return 0
	fi
	SNAP_SWITCH_KIND=process
	[ -d "$LOG_DIR" ] || cmd mkdir -p -m 0755 "$LOG_DIR"
	trace setsid sh "$1/agent" rollback --snapshot "$SNAP_ID" --after "$SNAP_SWITCH" -v
	# Its own session: the SSH session ending does not end it, and it holds none of its pipes.
	setsid sh "$1/agent" rollback --snapshot "$SNAP_ID" --after "$SNAP_SWITCH" -v \
		</dev/null >>"$LOG_DIR/rollback.log" 2>&1 3>&- 4>&- &
	echo "process $!" >"$1/switch"
}

# The switch of a snapshot will not fire: its timer stopped, or its process (and its sleep) ended.
disarm_switch() { # dir
	[ -f "$1/switch" ] || return 0
	read -r ds_kind ds_what <"$1/switch" || :
	case $ds_kind in
	systemd) try systemctl stop "$ds_what.timer" || : ;;
	process)
		# Only the process this switch started: its command line names the snapshot.
		if valid_uint "$ds_what" && tr '\0' ' ' <"/proc/$ds_what/cmdline" 2>/dev/null | grep -q -- "--snapshot ${1##*/} "; then
			cmd kill -TERM "-$ds_what"
		fi
		;;
	esac
	rm -f "$1/switch"
}

# Every snapshot goes (down, or a deploy that keeps a new one); none may be in the middle of a restore.
discard_snapshots() {
	[ -d "$SNAP_ROOT" ] && [ -z "$RESTORING" ] || return 0
	for ds_snap in $(snapshot_dirs all); do
		[ -d "$ds_snap/claimed" ] && die "a rollback of deploy ${ds_snap##*/} is running on this node: try again when it is done"
		disarm_switch "$ds_snap"
		cmd rm -rf "$ds_snap"
	done
	# The reports of restores are kept a week, for the control machine to ask after.
	find "$SNAP_ROOT" -name '*.report' -mtime +7 -exec rm -f {} + 2>/dev/null || :
}

snapshot_json() {
	[ "$SNAP_ARMED" = 1 ] || return 0
	printf ',"snapshot":"%s","switch":"%s"' "$SNAP_ID" "$SNAP_SWITCH_KIND"
}

# The id a reply is about (checked: an unchecked one is left out).
snapshot_id_json() { valid_snapshot_id "$SNAP_ID" && printf ',"snapshot":"%s"' "$SNAP_ID"; }

# confirm: the deploy stands; its switch is disarmed. The snapshot stays ("kept") until the next
# deploy or down, so that the control machine can still roll back every node of the deploy when
# another one of them could not be confirmed.
confirm_snapshot() {
	cs_dir=$(snap_dir "$SNAP_ID")
	if [ -d "$cs_dir" ]; then
		# The claim is the switch's too: one of the two wins.
		if ! mkdir "$cs_dir/claimed" 2>/dev/null; then
			CONFIRM_STATE=rolling-back
		elif ! snap_pending "$cs_dir"; then
			rmdir "$cs_dir/claimed"
			CONFIRM_STATE=confirmed
		else
			disarm_switch "$cs_dir"
			echo kept >"$cs_dir/state"
			rmdir "$cs_dir/claimed"
			CONFIRM_STATE=confirmed
		fi
	elif [ -f "$SNAP_ROOT/$SNAP_ID.report" ]; then
		CONFIRM_STATE=rolled-back
	else
		CONFIRM_STATE=absent
	fi
}

report_confirm() {
	report_head
	snapshot_id_json
	[ -n "$CONFIRM_STATE" ] && printf ',"state":"%s"' "$CONFIRM_STATE"
	printf '}\n'
}

report_rollback() {
	report_head
	snapshot_id_json
	printf ',"by":"%s","restored":"%s","report":' "$RB_BY" "$RB_RESTORED"
	if [ -n "$RB_REPORT" ] && [ -s "$RB_REPORT" ]; then cat "$RB_REPORT"; else printf 'null\n'; fi
	printf '}\n'
}

# rollback: the snapshot restored now (by the control machine), or after --after S seconds (by the
# switch, and only while no confirmation came). A restore that is done is reported again from its
# record; one of a snapshot this node never had restores nothing.
rollback_snapshot() {
	rs_dir=$(snap_dir "$SNAP_ID")
	if [ -n "$SNAP_AFTER" ] && [ "$SNAP_AFTER" -gt 0 ]; then
		# Interruptible: disarming kills this process group.
		sleep "$SNAP_AFTER" &
		wait $! || :
	fi
	if [ ! -d "$rs_dir" ]; then
		[ -f "$SNAP_ROOT/$SNAP_ID.report" ] && { cat "$SNAP_ROOT/$SNAP_ID.report" >&3; exit 0; }
		report
		exit 0
	fi
	if ! mkdir "$rs_dir/claimed" 2>/dev/null; then
		# The switch and the control machine, or a confirmation: one of them has it.
		[ -n "$SNAP_AFTER" ] && exit 0
		rs_wait=0
		while [ -d "$rs_dir/claimed" ] && [ "$rs_wait" -lt 120 ]; do
			sleep 1
			rs_wait=$((rs_wait + 1))
		done
		[ -f "$SNAP_ROOT/$SNAP_ID.report" ] && { cat "$SNAP_ROOT/$SNAP_ID.report" >&3; exit 0; }
		die "a restore of deploy $SNAP_ID is running here and did not end within 120 s"
	fi
	if [ -n "$SNAP_AFTER" ]; then
		RB_BY=switch
		# Confirmed meanwhile: the switch has nothing to do.
		snap_pending "$rs_dir" || { rmdir "$rs_dir/claimed"; exit 0; }
		rm -f "$rs_dir/switch"
	else
		RB_BY=control
		disarm_switch "$rs_dir"
	fi
	restore_snapshot "$rs_dir"
}

# The snapshot applied by this agent's own deploy (or down) from a copy of its stage; the restoring
# run's report goes into ours. Done: the record of it stays, the snapshot goes. Failed: the
# snapshot stays for another try.
restore_snapshot() { # dir
	rr_dir=$1
	RB_RESTORED=previous
	rr_kind=$(cat "$rr_dir/kind" 2>/dev/null)
	[ "$rr_kind" = down ] && RB_RESTORED=down
	rr_stage=$(mktemp -d) || die "mktemp -d failed"
	set +f
	cp -p "$rr_dir/stage/"* "$rr_stage/" || { rm -rf "$rr_stage"; rmdir "$rr_dir/claimed"; die "cannot read the snapshot in $rr_dir"; }
	set -f
	if [ "$rr_kind" = deploy ]; then
		rr_key=$(sed -n 's/^PrivateKey = "\([A-Za-z0-9+/=]*\)"$/\1/p' "$rr_stage/rait.conf")
		valid_key "$rr_key" || { rm -rf "$rr_stage"; rmdir "$rr_dir/claimed"; die "no private key in the snapshot's rait.conf"; }
		printf '%s\n' "$rr_key" >"$rr_stage/private.key"
	fi
	say "restoring the state before deploy $SNAP_ID ($RB_RESTORED)"
	RB_REPORT=$STAGE/restore.json
	[ -n "$STAGE" ] || RB_REPORT=$(mktemp) || die "mktemp failed"
	if [ "$VERBOSE" = 1 ]; then set -- -v; else set --; fi
	sh "$0" "$rr_kind" --stage "$rr_stage" --restore "$SNAP_ID" "$@" >"$RB_REPORT" 2>&4 3>&- 4>&-
	if ! grep -q '^{"agent":1,"mode":"[a-z]*","ok":true' "$RB_REPORT"; then
		# The snapshot stays for another try.
		rmdir "$rr_dir/claimed"
		ERROR="the restore did not succeed"
		grep -q '^{"agent":1,' "$RB_REPORT" || { ERROR="the restore crashed"; : >"$RB_REPORT"; }
		report
		[ -n "$STAGE" ] || rm -f "$RB_REPORT"
		exit 0
	fi
	report_rollback >"$SNAP_ROOT/.$SNAP_ID.report"
	mv -f "$SNAP_ROOT/.$SNAP_ID.report" "$SNAP_ROOT/$SNAP_ID.report"
	rm -rf "$rr_dir"
	cat "$SNAP_ROOT/$SNAP_ID.report" >&3
	[ -n "$STAGE" ] || rm -f "$RB_REPORT"
	exit 0
}

# confirm and rollback: they need no plan and change nothing but the snapshot (rollback through
# a deploy or down of the snapshot's own stage).
snapshot_mode() {
	valid_snapshot_id "$SNAP_ID" || die "$MODE needs --snapshot ID"
	case $MODE in
	confirm) confirm_snapshot ;;
	rollback) rollback_snapshot ;;
	esac
	report
	exit 0
}

# apply --boot with a deploy that was never confirmed: its switch did not outlive the reboot, so
# the boot does what it would have done.
rollback_at_boot() {
	find_pending
	[ -n "$PENDING_ID" ] || return 0
	say "deploy $PENDING_ID was never confirmed: restoring the state before it"
	exec sh "$0" rollback --snapshot "$PENDING_ID" --after 0 -v >&3 2>&4 3>&- 4>&-
}
