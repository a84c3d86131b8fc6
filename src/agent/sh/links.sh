# WireGuard links: create, configure and delete, one interface per peer (RAIT's scheme). Each
# planned link is compared with the facts (decide.sh) and only what differs is changed, so a link
# that is right keeps its handshake. A link is the unit of failure: one that cannot be made right
# is reported with its reason, and every other link, removal and babeld are still done.

# Names, space-separated, for the report; FAILED_JSON: {"name","error"} entries of failed links,
# FAILED_LINES the same as "name reason" lines (kept in $RUN_DIR/links.failed for status).
ADDED=
UPDATED=
REMOVED=
KEPT=
FAILED_JSON=
FAILED_LINES=
# Things a person should know that are not failures (e.g. a sysctl raised), for the report.
NOTES_JSON=

link_failed() { # name reason
	say "$1: $2"
	FAILED_JSON="$FAILED_JSON${FAILED_JSON:+,}{\"name\":$(json_str "$1"),\"error\":$(json_str "$2")}"
	FAILED_LINES="$FAILED_LINES$1 $2
"
}

note() { # text
	say "$1"
	NOTES_JSON="$NOTES_JSON${NOTES_JSON:+,}$(json_str "$1")"
}

# wg's notation of host:port, into EP (no subshell: this runs for every link).
set_endpoint() { case $1 in *:*) EP="[$1]:$2" ;; *) EP="$1:$2" ;; esac; }

is_name() { case $1 in *:* | '' | -) return 1 ;; *[!0-9.]*) return 0 ;; esac; return 1; }

# The first address of the link's family a name resolves to, within a few seconds; RAIT resolves
# the same way, and an ip4 link never uses an AAAA answer. Fails when there is none.
resolve() { # name family
	case $2 in ip4) rs_db=ahostsv4 ;; *) rs_db=ahostsv6 ;; esac
	command -v getent >/dev/null 2>&1 || return 1
	if command -v timeout >/dev/null 2>&1; then set -- timeout 5 getent "$rs_db" "$1"; else set -- getent "$rs_db" "$1"; fi
	"$@" 2>/dev/null | awk 'NR == 1 { print $1; found = 1 } END { exit !found }'
}

create_link() { # name
	prepare_place
	# A leftover of an interrupted run in the transit namespace would block the name.
	if [ -n "$TR_NS$IF_NS" ] && ip_tr link show dev "$1" >/dev/null 2>&1; then
		try ip_tr link del dev "$1" || return 1
	fi
	wg_impl
	if [ "$WG_IMPL" = kernel ]; then
		try ip_tr link add dev "$1" type wireguard || return 1
	else
		start_wireguard_go "$1" || return 1
	fi
	iso place "$1" || return 1
	# In our group at once: an interrupted run leaves a managed link the next sync cleans up.
	try ip_if link set dev "$1" group "$P_GROUP" || return 1
	# TUN links would get a random kernel link-local beside ours; babeld must see ours.
	[ "$WG_IMPL" = wireguard-go ] && { try ip_if link set dev "$1" addrgenmode none || return 1; }
	return 0
}

# Starts a daemon that forks itself into the background. It must not inherit the SSH session's
# stdout/stderr (fds 1-4): the session would only end when the daemon does.
start_daemon() { # log command...
	sd_log=$1
	shift
	trace "$@" || return 0
	"$@" </dev/null >"$sd_log" 2>&1 3>&- 4>&-
}

start_wireguard_go() { # name
	if ! start_daemon "$STAGE/wireguard-go.log" in_tr wireguard-go "$1"; then
		CMD_ERROR="wireguard-go $1 failed: $(log_tail "$STAGE/wireguard-go.log")"
		return 1
	fi
	[ "$DRY" = 1 ] && return 0
	# Its parent returns before the daemon has set the device up; a link moved to another
	# namespace before that makes the daemon fail. Its control socket answers once it is ready.
	in_tr wg show "$1" listen-port >/dev/null 2>&1 && return 0
	CMD_ERROR="wireguard-go $1 did not come up: $(log_tail "$STAGE/wireguard-go.log")"
	return 1
}

# wireguard-go exits a moment after its link is deleted; until then it holds the link's UAPI
# socket and UDP port, which a link of that name or port at a new place needs.
wait_wireguard_go_gone() { # names...
	for name; do
		for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do
			wg show "$name" listen-port >/dev/null 2>&1 || continue 2
			sleep 0.1 2>/dev/null || sleep 1
		done
		die "wireguard-go for $name did not exit after its link was deleted"
	done
}

# Every wireguard-go holds an inotify instance, counted against fs.inotify.max_user_instances
# (Debian: 128): raise it when the new links need more, or fail before making any.
check_inotify() { # new links
	[ "$1" -gt 0 ] || return 0
	wg_impl
	[ "$WG_IMPL" = wireguard-go ] || return 0
	ci_file=$PROC_SYS/fs/inotify/max_user_instances
	# Not read: sysctl files answer only a read from offset 0, and sh's read takes a byte at a time.
	ci_max=$(cat "$ci_file" 2>/dev/null)
	valid_uint "$ci_max" || return 0
	ci_used=$(find /proc -mindepth 3 -maxdepth 3 -path '/proc/[0-9]*/fd/*' -lname 'anon_inode:inotify' 2>/dev/null | wc -l)
	# Room for the new links and for the node's other software.
	ci_need=$((ci_used + $1 + 32))
	[ "$ci_max" -ge "$ci_need" ] && return 0
	if [ "$DRY" = 1 ]; then
		note "would raise fs.inotify.max_user_instances from $ci_max to $ci_need: $1 new wireguard-go, $ci_used instances in use"
		return 0
	fi
	if { echo "$ci_need" >"$ci_file"; } 2>/dev/null; then
		note "raised fs.inotify.max_user_instances from $ci_max to $ci_need: each wireguard-go needs one ($ci_used in use, $1 new); make it permanent in /etc/sysctl.d"
		return 0
	fi
	die "fs.inotify.max_user_instances is $ci_max but $ci_need are needed ($ci_used in use, $1 new wireguard-go, each needs one): raise it (sysctl -w fs.inotify.max_user_instances=$ci_need, and in /etc/sysctl.d)"
}

configure_link() { # words name port pubkey endpoint(""=none) linklocal keepalive(0=off)
	cl_words=" $1 "
	shift
	cl_keepalive=$6
	[ "$cl_keepalive" = 0 ] && cl_keepalive=off
	# Without "peers" the link has exactly the planned peer (decide.sh), so nothing to remove.
	case $cl_words in *" peers "*)
		for old in $(wg_if show "$1" peers 2>/dev/null); do
			[ "$old" = "$3" ] || try wg_if set "$1" peer "$old" remove || return 1
		done
		;;
	esac
	case $cl_words in *" wg "* | *" peers "*)
		try wg_if set "$1" private-key "$STAGE/private.key" listen-port "$2" fwmark "$P_FWMARK" \
			peer "$3" ${4:+endpoint "$4"} persistent-keepalive "$cl_keepalive" allowed-ips 0.0.0.0/0,::/0 || return 1
		;;
	esac
	case $cl_words in *" master "*)
		prepare_place
		try ip_if link set dev "$1" master "$LINK_MASTER" || return 1
		;;
	esac
	case $cl_words in *" link "*) try ip_if link set dev "$1" mtu "$P_MTU" group "$P_GROUP" || return 1 ;; esac
	case $cl_words in *" addr "*) try ip_if addr replace "$5" dev "$1" || return 1 ;; esac
	case $cl_words in *" up "*) try ip_if link set dev "$1" up || return 1 ;; esac
	return 0
}

# One planned link to its plan: the fields of a "link" line of plan_diffs and its words. A name
# is resolved here, once, in the link's family; one that does not resolve fails this link only
# (a missing link is still made, without an endpoint: the peer can still reach it).
sync_link() { # name port pubkey host eport linklocal keepalive family current-endpoint words...
	sl_name=$1 sl_port=$2 sl_pub=$3 sl_host=$4 sl_eport=$5 sl_ll=$6 sl_ka=$7 sl_family=$8 sl_cur=$9
	shift 9
	sl_words=
	sl_error=
	# A peer behind NAT ("-"): no endpoint; the link learns it from the peer's handshake.
	if [ "$sl_host" = - ]; then EP=; else set_endpoint "$sl_host" "$sl_eport"; fi
	for sl_w; do
		[ "$sl_w" = resolve ] || sl_words="$sl_words $sl_w"
	done
	case " $* " in *" resolve "* | *" missing "*)
		if is_name "$sl_host"; then
			if sl_addr=$(resolve "$sl_host" "$sl_family"); then
				set_endpoint "$sl_addr" "$sl_eport"
				case " $* " in *" resolve "*) [ "$EP" = "$sl_cur" ] || sl_words="$sl_words wg" ;; esac
			else
				sl_error="endpoint $sl_host does not resolve ($sl_family)"
				EP=
			fi
		fi
		;;
	esac
	case " $sl_words " in
	*" foreign "*)
		link_failed "$sl_name" "$sl_name exists and is not a WireGuard link: rename or delete it (rait-fleet never takes a link it did not make)"
		return
		;;
	*" missing "*)
		if create_link "$sl_name" && configure_link "wg link addr up${LINK_MASTER:+ master}" "$sl_name" "$sl_port" "$sl_pub" "$EP" "$sl_ll" "$sl_ka"; then
			ADDED="$ADDED $sl_name"
		else
			sl_error=$CMD_ERROR
		fi
		;;
	*[a-z]*)
		[ "$VERBOSE" = 1 ] && say "$sl_name differs:$sl_words"
		# Without an address (sl_error) wg set keeps the endpoint the link has.
		if configure_link "$sl_words" "$sl_name" "$sl_port" "$sl_pub" "$EP" "$sl_ll" "$sl_ka"; then
			UPDATED="$UPDATED $sl_name"
		else
			sl_error=$CMD_ERROR
		fi
		;;
	*) KEPT="$KEPT $sl_name" ;;
	esac
	[ -z "$sl_error" ] || link_failed "$sl_name" "$sl_error"
}

# Ensure each planned link, leave the right ones alone, delete every other managed link.
sync_links() {
	[ -n "$P_NAMES" ] && prepare_place
	read_facts
	plan_diffs "$LAST_PLAN" || die "cannot compare the links with the plan"
	# Lines split by the shell itself: read would take them a byte at a time.
	sl_ifs=$IFS
	IFS=$NL
	# shellcheck disable=SC2086 # one line of plan_diffs each
	set -- $PLAN_DIFFS
	IFS=$sl_ifs
	for sl_line; do case $sl_line in "new "*) check_inotify "${sl_line#new }" ;; esac; done
	stale=
	for sl_line; do
		# shellcheck disable=SC2086 # the fields of a link line
		case $sl_line in
		"kept "*) KEPT="$KEPT ${sl_line#kept }" ;;
		"stale "*) stale="$stale ${sl_line#stale }" ;;
		"link "*) sync_link ${sl_line#link } ;;
		esac
	done
	# babeld forgets a link while it still exists, so it can say goodbye cleanly.
	# shellcheck disable=SC2086 # a list of interface names
	babel_forget $stale
	for name in $stale; do
		if try ip_if link del dev "$name"; then REMOVED="$REMOVED $name"; else link_failed "$name" "$CMD_ERROR"; fi
	done
}
