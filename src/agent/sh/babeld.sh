# babeld, the routing daemon over the links: started when not running; when running, told about
# added and removed links through its control socket, never restarted for that.

# What happened to babeld, for the report: started | updated | restarted | stopped | unchanged |
# not-running | disabled, prefixed "would-" in check mode.
BABELD=disabled
BABEL_TOLD=0
# babeld was stopped because the links moved to another namespace; it starts again beside them.
BABELD_MOVED=0
BABELD_PIDFILE=/run/babeld.pid

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
	if [ "$DRY" = 0 ]; then
		rm -f "$BABELD_PIDFILE"
		# babeld is not running (we asked), so a socket file left by an earlier one is stale; babeld
		# would refuse to start with "Address already in use".
		[ -S "$P_BABELD_SOCKET" ] && cmd rm -f "$P_BABELD_SOCKET"
	fi
	start_daemon "$STAGE/babeld.log" in_mesh babeld -D -I "$BABELD_PIDFILE" -c "$P_BABELD_CONFIG" ||
		die "babeld failed to start: $(log_tail "$STAGE/babeld.log")"
	[ "$DRY" = 1 ] && return 0
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
