# babeld, the routing daemon over the links.
# - manage agent (the default): the agent runs babeld itself, with a pid file of its own and its
#   control socket given on the command line (-G), so any babeld.conf works (RAIT's README
#   template has no socket line). Links come and go through the socket, with the full parameters
#   the config gives them; any other change to babeld.conf restarts babeld. A babeld the agent
#   did not start is never touched: the node fails, before any change, naming it.
# - manage external: the operator runs babeld (RAIT's model) with its socket at babeld_socket;
#   the agent only adds and flushes links through it, never starts or stops it.

# What happened to babeld, for the report (BABELD_ACTIONS in src/agent/report.ts).
BABELD=disabled
BABEL_TOLD=0
# babeld was stopped because the links moved to another namespace; it starts again beside them.
BABELD_MOVED=0
BABELD_PIDFILE=$RUN_DIR/babeld.pid
BABELD_LOG=$LOG_DIR/babeld.log
# The config our babeld runs, interfaces added through the socket included: a deploy restarts
# babeld when the new config differs from it in more than interfaces; status compares the two.
BABELD_RUNNING=$RUN_DIR/babeld.conf
# Interfaces the running babeld has, " a b " (babel_known reads them once, babel_tell follows).
BABEL_KNOWN=
BABEL_KNOWN_READ=0
# This run learnt BABEL_KNOWN from a dump or changed it: record_babel_known writes it down.
BABEL_KNOWN_CHANGED=0
# What a run last knew of our babeld's interfaces: "PID STARTTIME" of that babeld, then BABEL_KNOWN.
BABEL_KNOWN_FILE=$RUN_DIR/babeld.interfaces

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

babeld_answers() { [ -S "$P_BABELD_SOCKET" ] && babel_ctl "" 2>/dev/null | grep -q '^ok'; }

# Our babeld is up: it answers on its socket (or, with no client to ask, runs).
babeld_up() { if have_babel_client; then babeld_answers; else babeld_pid >/dev/null; fi; }

# The pid of the babeld we started, when it runs.
babeld_pid() {
	# babeld writes its pid without a final newline: read fails then, but has read it.
	bp_pid=
	read -r bp_pid 2>/dev/null <"$BABELD_PIDFILE"
	valid_uint "$bp_pid" || return 1
	read -r bp_comm 2>/dev/null <"/proc/$bp_pid/comm" || return 1
	[ "$bp_comm" = babeld ] && printf '%s' "$bp_pid"
}

# The babeld that routes the mesh runs: ours (agent), or one answering on the socket (external).
babeld_running() {
	if [ "$P_BABELD_MANAGE" = external ]; then babeld_answers; else babeld_pid >/dev/null; fi
}

# The babeld processes in the network namespace where ours runs, one pid a line (machines with
# several namespaces, like the lab's nodes, share one /proc).
babelds_here() {
	bh_net=$(in_mesh readlink /proc/self/ns/net) || return 0
	set +f
	for bh_dir in /proc/[0-9]*; do
		read -r bh_comm 2>/dev/null <"$bh_dir/comm" || continue
		[ "$bh_comm" = babeld ] || continue
		[ "$(readlink "$bh_dir/ns/net" 2>/dev/null)" = "$bh_net" ] && printf '%s\n' "${bh_dir#/proc/}"
	done
	set -f
}

# Before any change: the babeld the plan needs can be had. With manage external it must answer;
# otherwise no babeld but ours may run beside the links. One started by an older rait-fleet (with
# our config file, but Debian's pid file) is taken over.
check_babeld() {
	[ "$P_BABELD" = 1 ] || return 0
	if [ "$P_BABELD_MANAGE" = external ]; then
		have_babel_client || die "mesh.babeld.manage is external: the agent talks to babeld through its socket and needs socat or nc -U (install package socat)"
		babeld_answers || die "mesh.babeld.manage is external, but no babeld answers at $P_BABELD_SOCKET: start it with local-path-readwrite $P_BABELD_SOCKET in its config, or let rait-fleet run it (manage: agent)"
		return 0
	fi
	babeld_pid >/dev/null && return 0
	for cb_pid in $(babelds_here); do
		cb_cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$cb_pid/cmdline")
		case " $cb_cmd " in
		*" -c $P_BABELD_CONFIG "*)
			say "taking over babeld (pid $cb_pid), started by an earlier rait-fleet with $P_BABELD_CONFIG"
			[ "$DRY" = 1 ] && continue
			ensure_run_dir
			printf '%s\n' "$cb_pid" >"$BABELD_PIDFILE"
			# What it runs is unknown: the deploy restarts it.
			forget_running
			;;
		*)
			die "a babeld that rait-fleet did not start runs here (pid $cb_pid: ${cb_cmd% }): stop it (e.g. systemctl disable --now babeld) to let rait-fleet run its own, or keep it and set mesh.babeld.manage: external (its config then needs local-path-readwrite $P_BABELD_SOCKET)"
			;;
		esac
	done
	return 0
}

ensure_run_dir() { [ -d "$RUN_DIR" ] || cmd mkdir -p -m 0700 "$RUN_DIR"; }

# The interfaces the running babeld has. Asking costs a dump through the socket (a client, an awk,
# and babeld's own work for every route it holds). Our babeld changes its interfaces only when told,
# and a restart makes it another process: what the last run knew of the very same process (pid and
# start time) stands in for the dump. Not seen that way: a "flush interface" sent by hand.
babel_known() {
	[ "$BABEL_KNOWN_READ" = 1 ] && return 0
	BABEL_KNOWN_READ=1
	if [ "$P_BABELD_MANAGE" = agent ] && babeld_identity; then
		bk_line=
		read -r bk_line 2>/dev/null <"$BABEL_KNOWN_FILE"
		# Written whole, it ends with " ." (a torn write does not).
		case $bk_line in "$BABELD_ID "*" ." | "$BABELD_ID .")
			bk_line=${bk_line#"$BABELD_ID"}
			BABEL_KNOWN="${bk_line%.}"
			return 0
			;;
		esac
	fi
	BABEL_KNOWN="$(babel_ctl dump | awk '$1 == "add" && $2 == "interface" { printf " %s", $3 }') "
	BABEL_KNOWN_CHANGED=1
}

# BABELD_ID: "PID STARTTIME" of our running babeld (the start time tells a reused pid apart).
babeld_identity() {
	BABELD_ID=
	babeld_pid >/dev/null || return 1
	read -r bi_stat 2>/dev/null <"/proc/$bp_pid/stat" || return 1
	# The words after "PID (COMM) " are fields 3 on; the start time is field 22.
	# shellcheck disable=SC2086 # split into fields on purpose (set -f: no globbing)
	set -- ${bi_stat#*") "}
	[ $# -ge 20 ] || return 1
	BABELD_ID="$bp_pid ${20}"
}

# For the next run: what our babeld has now, when this run learnt or changed it.
record_babel_known() {
	[ "$DRY" = 0 ] && [ "$BABEL_KNOWN_CHANGED" = 1 ] && [ "$P_BABELD_MANAGE" = agent ] && babeld_identity || return 0
	printf '%s\n' "$BABELD_ID$BABEL_KNOWN." >"$BABEL_KNOWN_FILE"
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
		known_after "$line"
	done
	BABEL_TOLD=1
}

# BABEL_KNOWN after babeld accepted the control line $1.
known_after() {
	[ "$BABEL_KNOWN_READ" = 1 ] || return 0
	# shellcheck disable=SC2086 # the line's words
	set -- $1
	case $1:${2:-} in
	flush:interface) case $BABEL_KNOWN in *" ${3:-} "*) BABEL_KNOWN="${BABEL_KNOWN%%" $3 "*} ${BABEL_KNOWN#*" $3 "}" ;; esac ;;
	interface:*) case $BABEL_KNOWN in *" $2 "*) ;; *) BABEL_KNOWN="$BABEL_KNOWN$2 " ;; esac ;;
	*) return 0 ;;
	esac
	BABEL_KNOWN_CHANGED=1
}

# The "interface" line babeld gets at run time for each name: babeld applies the config's
# default lines only to interfaces it reads at start-up, so the line carries them, merged with
# the name's own line (later values win, as in babeld's parser), the way RAIT sends them.
babel_interface_lines() { # names...
	awk -v names="$*" '
	function put(key, value) { if (!(key in cur)) order[++n] = key; cur[key] = value }
	{ sub(/#.*/, "") }
	$1 == "default" { for (i = 2; i < NF; i += 2) { if (!($i in dflt)) dorder[++nd] = $i; dflt[$i] = $(i + 1) } }
	$1 == "interface" && NF >= 2 { own[$2] = $0 }
	END {
		k = split(names, want, " ")
		for (j = 1; j <= k; j++) {
			split("", cur)
			n = 0
			for (i = 1; i <= nd; i++) put(dorder[i], dflt[dorder[i]])
			if (want[j] in own) {
				m = split(own[want[j]], f, " ")
				for (i = 3; i < m; i += 2) put(f[i], f[i + 1])
			}
			line = "interface " want[j]
			for (i = 1; i <= n; i++) line = line " " order[i] " " cur[order[i]]
			print line
		}
	}' "$P_BABELD_CONFIG"
}

# What the running babeld needs for the new config: "restart" when anything but the interface
# lines changed (babeld reads the rest only at start), else "readd NAME" for each interface
# whose own line changed. Comments and spacing do not count; an unknown running config restarts.
babel_config_changes() { # running new
	[ -r "$1" ] || { echo restart; return; }
	awk '
	{ sub(/#.*/, "") }
	NF == 0 { next }
	{ $1 = $1 }
	FILENAME == ARGV[1] { if ($1 == "interface") old[$2] = $0; else olds = olds $0 "\n"; next }
	{ if ($1 == "interface") cur[$2] = $0; else news = news $0 "\n" }
	END {
		if (olds != news) { print "restart"; exit }
		for (i in cur) if ((i in old) && old[i] != cur[i]) print "readd", i
	}' "$1" "$2"
}

start_babeld() {
	if [ "$DRY" = 0 ]; then
		ensure_run_dir
		[ -d "$STATE_DIR" ] || cmd mkdir -p -m 0700 "$STATE_DIR"
		[ -d "$LOG_DIR" ] || cmd mkdir -p -m 0755 "$LOG_DIR"
		rm -f "$BABELD_PIDFILE"
		# No babeld of ours runs and no other was allowed to (check_babeld): a socket file left
		# at that path is stale, and babeld would refuse to start with "Address already in use".
		[ -S "$P_BABELD_SOCKET" ] && cmd rm -f "$P_BABELD_SOCKET"
	fi
	start_daemon "$STAGE/babeld.out" in_mesh babeld -D -I "$BABELD_PIDFILE" -G "$P_BABELD_SOCKET" \
		-L "$BABELD_LOG" -S "$STATE_DIR/babel-state" -c "$P_BABELD_CONFIG" ||
		die "babeld failed to start: $(log_tail "$STAGE/babeld.out")"
	[ "$DRY" = 1 ] && return 0
	# -D returns before the daemon has read its config and opened its socket; it only counts as
	# started once it answers there. One that does not is stopped, never left running deaf.
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		babeld_up && break
		sleep 0.1 2>/dev/null || sleep 1
	done
	if ! babeld_up; then
		sb_reason=$(log_tail "$BABELD_LOG")
		stop_babeld
		die "babeld did not come up (it is not left running): ${sb_reason:-no message in $BABELD_LOG}"
	fi
	cmd cp "$P_BABELD_CONFIG" "$BABELD_RUNNING"
	SUMS=
	BABEL_KNOWN_READ=0 BABEL_KNOWN_CHANGED=0
}

# What our babeld runs is no longer known: its config (nor its checksum, files.sh), its interfaces.
forget_running() {
	rm -f "$BABELD_RUNNING" "$BABEL_KNOWN_FILE"
	SUMS=
	BABEL_KNOWN_READ=0 BABEL_KNOWN_CHANGED=0
}

stop_babeld() {
	pid=$(babeld_pid) || return 0
	cmd kill "$pid"
	[ "$DRY" = 1 ] && return 0
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		kill -0 "$pid" 2>/dev/null || { forget_running; return 0; }
		sleep 0.5 2>/dev/null || sleep 1
	done
	die "babeld (pid $pid) did not stop"
}

babeld_result() { if [ "$DRY" = 1 ]; then BABELD=would-$1; else BABELD=$1; fi; }

# Flush links from the running babeld (before they are deleted); one it never had is no error.
babel_forget() { # names...
	[ "$P_BABELD" = 1 ] && [ $# -gt 0 ] && have_babel_client && babeld_running || return 0
	babel_known
	for name; do
		case $BABEL_KNOWN in *" $name "*) babel_tell "flush interface $name" ;; esac
	done
}

# The planned links babeld lacks are added, and those whose config line changed added again,
# through the socket.
babel_add_links() { # readd-names...
	babel_known
	ba_add=
	for name in $P_NAMES; do
		case "$BABEL_KNOWN $* " in *" $name "*) continue ;; esac
		ba_add="$ba_add $name"
	done
	for name; do
		case $BABEL_KNOWN in *" $name "*) babel_tell "flush interface $name" ;; esac
	done
	[ -n "$ba_add$*" ] || return 0
	# shellcheck disable=SC2086 # a list of interface names
	babel_interface_lines $ba_add "$@" >"$STAGE/babel.lines"
	while IFS= read -r line; do babel_tell "$line"; done <"$STAGE/babel.lines"
}

# Start, restart or stop babeld, or bring the running one to the planned links through its socket.
sync_babeld() {
	if [ "$P_BABELD" != 1 ]; then
		# babeld turned off: the one we started goes too (it would run on, routing nothing, and
		# keep a namespace the links left alive). One we did not start is never ours to stop.
		babeld_pid >/dev/null || return 0
		stop_babeld
		babeld_result stopped
		return 0
	fi
	if [ "$P_BABELD_MANAGE" = external ]; then
		[ "$MODE" = down ] || babel_add_links
		if [ "$BABEL_TOLD" = 1 ]; then babeld_result updated; else BABELD=unchanged; fi
		return
	fi
	if [ "$BABELD_MOVED" = 1 ]; then
		if [ "$MODE" = down ] || [ -z "$P_NAMES" ]; then babeld_result stopped; return; fi
		start_babeld
		babeld_result restarted
		return
	fi
	if ! babeld_running; then
		# babeld refuses to run without interfaces; nothing to route over, nothing to start.
		if [ "$MODE" = down ] || [ -z "$P_NAMES" ]; then BABELD=not-running; return; fi
		start_babeld
		babeld_result started
		return
	fi
	if [ "$MODE" = down ] || [ -z "$P_NAMES" ]; then
		# The mesh is down here, so is its routing daemon.
		stop_babeld
		babeld_result stopped
		return
	fi
	sb_same=0
	sb_changes=
	if same_file "$BABELD_RUNNING" "$P_BABELD_CONFIG"; then
		sb_same=1
	else
		sb_changes=$(babel_config_changes "$BABELD_RUNNING" "$P_BABELD_CONFIG")
	fi
	if [ "$sb_changes" = restart ] || ! have_babel_client; then
		if [ -z "$sb_changes$ADDED$REMOVED" ]; then BABELD=unchanged; return; fi
		say "babeld's config changed in more than its interfaces (or no socat/nc to tell it): restarting babeld"
		stop_babeld
		start_babeld
		babeld_result restarted
		return
	fi
	# The interfaces whose own line changed: the words after each "readd".
	set --
	# shellcheck disable=SC2086 # "readd NAME" lines
	for sb_word in $sb_changes; do [ "$sb_word" = readd ] || set -- "$@" "$sb_word"; done
	babel_add_links "$@"
	if [ "$BABEL_TOLD" = 1 ]; then babeld_result updated; else BABELD=unchanged; fi
	# babeld now runs the deployed config, also where it differs only in comments or spacing.
	[ "$DRY" = 1 ] || [ "$sb_same" = 1 ] || { cmd cp "$P_BABELD_CONFIG" "$BABELD_RUNNING" && SUMS=; }
}
