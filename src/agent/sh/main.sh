# Entry points: stage the plan, read it, run the mode, report.

# The private directory holding the plan and the files (and key) this run applies; facts are read
# into it too. Made by rait-fleet's prelude over SSH (--stage), else by stage_stored; removed on exit.
STAGE=
# The plan this run applies: in the stage, or the stored one (apply and status on the node alone).
PLAN_FILE=
# boot | heal | manual | pull: why apply runs on the node alone (logged).
APPLY_KIND=manual

report() {
	case $MODE in
	status) report_status ;;
	confirm) report_confirm ;;
	rollback) report_rollback ;;
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
	[ -n "$PERSISTENCE" ] && printf ',"persistence":"%s"' "$PERSISTENCE"
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
	printf ',"failed":[%s]},"babeld":' "$FAILED_JSON"
	json_str "$BABELD"
	snapshot_json
	printf ',"notes":[%s]}\n' "$NOTES_JSON"
}

# What this run leaves for the next one and for status: the links that failed and why (status
# names them), and the plan applied, the one apply on the node alone runs again (a down plan is
# marked so: a reboot brings nothing back). Only what changed is written.
record_run() {
	[ "$DRY" = 1 ] && return 0
	if [ -n "$FAILED_LINES" ] || [ -f "$RUN_DIR/links.failed" ]; then
		ensure_run_dir
		printf '%s' "$FAILED_LINES" >"$STAGE/links.failed"
		cmp -s "$STAGE/links.failed" "$RUN_DIR/links.failed" || write_atomic "$RUN_DIR/links.failed" 0600 <"$STAGE/links.failed"
	fi
	case $MODE in deploy | down | pull) ;; *) return 0 ;; esac
	[ -d "$P_CONFIG_DIR" ] || return 0
	same_file "$PLAN_FILE" "$LAST_PLAN" || write_atomic "$LAST_PLAN" 0600 <"$PLAN_FILE"
}

cleanup() {
	[ -n "$INSTALL_TMP" ] && rm -f "$INSTALL_TMP"
	[ -n "$STAGE" ] && rm -rf "$STAGE"
}

# The links, then babeld, brought to the plan: what deploy, check, down and apply share.
sync_all() {
	leave_old_placement
	sync_links
	sync_babeld
	record_babel_known
	sync_made
	record_placement
	record_run
}

usage() {
	say "usage: rait-fleet-agent deploy|check|down|status --stage DIR [-v] [--snapshot ID [--switch S]]"
	say "       rait-fleet-agent confirm|rollback --snapshot ID [--after S] [-v]"
	say "       rait-fleet-agent apply [--boot|--heal] [-v] | pull [-v] | status"
	exit 2
}

main() {
	# fd 3: the JSON report; fd 4: log; anything commands print goes to stderr.
	exec 3>&1 4>&2 1>&2 </dev/null
	MODE=${1:-}
	[ $# -gt 0 ] && shift
	case $MODE in
	deploy | down | status | apply | pull | confirm | rollback) ;;
	check) DRY=1 ;;
	*) usage ;;
	esac
	while [ $# -gt 0 ]; do
		case $1 in
		-v) VERBOSE=1 ;;
		--stage) [ $# -gt 1 ] || usage; STAGE=$2; shift ;;
		--boot | --heal) [ "$MODE" = apply ] || usage; APPLY_KIND=${1#--} ;;
		--snapshot) if [ $# -lt 2 ] || ! valid_snapshot_id "$2"; then usage; fi; SNAP_ID=$2; shift ;;
		--switch) if [ $# -lt 2 ] || ! valid_uint "$2"; then usage; fi; SNAP_SWITCH=$2; shift ;;
		--after) if [ $# -lt 2 ] || ! valid_uint "$2"; then usage; fi; SNAP_AFTER=$2; shift ;;
		--restore) if [ $# -lt 2 ] || ! valid_snapshot_id "$2"; then usage; fi; RESTORING=$2; shift ;;
		*) say "unknown option $1"; usage ;;
		esac
		shift
	done
	trap cleanup EXIT
	# A control process that dies does not stop us (sshd sends no signal without a tty): we run on
	# and get SIGPIPE when we report. Exit through cleanup then, or the staged private key stays.
	trap 'exit 1' INT TERM HUP PIPE
	case $MODE in confirm | rollback) snapshot_mode ;; esac
	[ "$APPLY_KIND" = boot ] && rollback_at_boot
	if [ -n "$STAGE" ]; then
		PLAN_FILE=$STAGE/plan
		[ -r "$PLAN_FILE" ] || die "no plan in $STAGE"
	else
		case $MODE in apply | status) stage_stored ;; pull) stage_pulled ;; *) usage ;; esac
	fi
	# The registry this node already runs: nothing to apply.
	[ "$PULL_UNCHANGED" = 1 ] && { report; exit 0; }
	read_plan "$PLAN_FILE"
	# A plan marked down applies as down: nothing comes back.
	if [ "$MODE" = apply ] && [ "$P_STATE" = down ]; then
		P_NAMES=
	fi
	check_requirements
	case $MODE in
	status) status ;;
	down)
		P_NAMES=
		read_old_placement
		discard_snapshots
		disarm_persistence
		disarm_pull
		sum_staged
		sync_all
		;;
	*)
		# Everything that can refuse the run does so before anything changes.
		case $MODE in deploy | check) adopt_config_dir ;; esac
		read_old_placement
		check_babeld
		[ "$MODE" = deploy ] && take_over_unconfirmed
		sum_staged
		sync_files
		case $MODE in deploy | check) install_pull_config ;; esac
		[ "$MODE" = apply ] || install_persistence
		sync_all
		case $MODE in
		apply) log_applied "$APPLY_KIND" ;;
		pull)
			log_applied pull
			accept_registry
			;;
		*) leave_old_config_dir ;;
		esac
		;;
	esac
	report
	case $MODE in apply | pull) [ -n "$ERROR$FAILED_LINES" ] && exit 1 ;; esac
	exit 0
}

main "$@"
