# Output and changes. fd 3 carries the JSON report, fd 4 the log (stderr). Facts are read
# freely; every change goes through cmd(), which prints "[#] command" with -v (wg-quick's way),
# or in check mode "[would] command" instead of running it.

MODE=
VERBOSE=0
DRY=0
ERROR=

say() { printf '%s\n' "$*" >&4; }

# A command as a person would type it: the namespace wrappers (isolation.sh) spelt out.
shown() {
	case $1 in
	ip_if) shift; printf 'ip%s %s' "${IF_NS:+ -n $IF_NS}" "$*" ;;
	ip_tr) shift; printf 'ip%s %s' "${TR_NS:+ -n $TR_NS}" "$*" ;;
	wg_if) shift; printf '%swg %s' "${IF_NS:+ip netns exec $IF_NS }" "$*" ;;
	in_if) shift; printf '%s%s' "${IF_NS:+ip netns exec $IF_NS }" "$*" ;;
	in_tr) shift; printf '%s%s' "${TR_NS:+ip netns exec $TR_NS }" "$*" ;;
	in_mesh) shift; [ "$P_ISOLATION" = netns ] && set -- in_if "$@"; shown "$@" ;;
	ip_old) shift; printf 'ip%s %s' "${OLD_NS:+ -n $OLD_NS}" "$*" ;;
	*) printf '%s' "$*" ;;
	esac
}

# Prints a change about to be made; false in check mode, where the caller makes none.
trace() {
	if [ "$DRY" = 1 ]; then
		[ "$VERBOSE" = 1 ] && say "[would] $(shown "$@")"
		return 1
	fi
	# Before the first change of a deploy that may have to be undone (rollback.sh).
	[ "$SNAP_ARMED" = 1 ] || arm_before_change
	[ "$VERBOSE" = 1 ] && say "[#] $(shown "$@")"
	return 0
}

# A change whose failure is one link's, not the run's: false on failure, with the reason, the
# command's own error included, in CMD_ERROR.
CMD_ERROR=
try() {
	trace "$@" || return 0
	"$@" 2>"$STAGE/cmd.err" && return 0
	CMD_ERROR="command failed: $(shown "$@"): $(log_tail "$STAGE/cmd.err")"
	return 1
}

# A change whose failure stops the run.
cmd() { try "$@" || die "$CMD_ERROR"; }

# The last lines a command or daemon printed, for an error message, without wireguard-go's
# banner box (its real error is the line after it).
log_tail() {
	grep -v -e '^[[:space:]]*$' -e '^┌' -e '^│' -e '^└' "$1" 2>/dev/null | tail -n 3 | tr '\n' ' ' | sed 's/ *$//'
}

# The run stops with one reason; the report says it (apply and pull, run on the node alone, also
# exit 1; a pull records it for status).
die() {
	ERROR=$*
	say "rait-fleet-agent: $ERROR"
	[ "$MODE" = pull ] && pull_record "failed $ERROR"
	report
	case $MODE in apply | pull) exit 1 ;; esac
	exit 0
}
