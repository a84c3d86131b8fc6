# Entry points: stage the payload, read the plan, run the mode, report.

# The private directory the payload is staged in (plan, files, key) and facts are read into.
STAGE=

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
	printf ',"failed":[%s]},"babeld":' "$FAILED_JSON"
	json_str "$BABELD"
	printf ',"notes":[%s]}\n' "$NOTES_JSON"
}

# What this run leaves for the next one and for status: the links that failed and why (status
# names them), and the plan applied (the next run compares endpoint names with it). Only what
# changed is written.
record_run() {
	[ "$DRY" = 1 ] && return 0
	if [ -n "$FAILED_LINES" ] || [ -f "$RUN_DIR/links.failed" ]; then
		ensure_run_dir
		printf '%s' "$FAILED_LINES" >"$STAGE/links.failed"
		cmp -s "$STAGE/links.failed" "$RUN_DIR/links.failed" || write_atomic "$RUN_DIR/links.failed" 0600 <"$STAGE/links.failed"
	fi
	[ "$MODE" = deploy ] && [ -d "$P_CONFIG_DIR" ] || return 0
	cmp -s "$STAGE/plan" "$LAST_PLAN" || write_atomic "$LAST_PLAN" 0600 <"$STAGE/plan"
}

cleanup() {
	[ -n "$INSTALL_TMP" ] && rm -f "$INSTALL_TMP"
	[ -n "$STAGE" ] && rm -rf "$STAGE"
}

stage_payload() {
	command -v rf_payload >/dev/null 2>&1 || die "no payload: run through rait-fleet (stdin = rf_payload prelude + this script)"
	STAGE=$(mktemp -d) || die "mktemp -d failed"
	rf_payload "$STAGE" || die "cannot write the payload to $STAGE"
}

# The links, then babeld, brought to the plan: what deploy, check and down share.
apply() {
	leave_old_placement
	sync_links
	sync_babeld
	sync_made
	record_placement
	record_run
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
	read_plan "$STAGE/plan"
	check_requirements
	case $MODE in
	status) status ;;
	down)
		P_LINKS=
		P_NAMES=
		read_old_placement
		apply
		;;
	*)
		# Everything that can refuse the run does so before anything changes.
		read_old_placement
		check_babeld
		sync_files
		apply
		;;
	esac
	report
	exit 0
}

main "$@"
