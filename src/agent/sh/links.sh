# WireGuard links: create, configure and delete, one interface per peer (RAIT's scheme). Each
# planned link is compared with the facts (decide.sh) and only what differs is changed, so a link
# that is right keeps its handshake.

# Names, space-separated, for the report.
ADDED=
UPDATED=
REMOVED=
KEPT=

endpoint_of() { # host port -> wg's notation
	case $1 in *:*) printf '[%s]:%s' "$1" "$2" ;; *) printf '%s:%s' "$1" "$2" ;; esac
}

# Does wg's current endpoint "addr:port" match host:port? Names resolve on this node.
endpoint_matches() { # current host port
	[ "$1" = "$(endpoint_of "$2" "$3")" ] && return 0
	case $2 in *[!0-9.]* | '') ;; *) return 1 ;; esac # IPv4 literal: exact match only
	case $2 in *:*) return 1 ;; esac                    # IPv6 literal
	command -v getent >/dev/null 2>&1 || { [ "${1##*:}" = "$3" ]; return; }
	for addr in $(getent ahosts "$2" 2>/dev/null | awk '{ print $1 }' | sort -u); do
		[ "$1" = "$(endpoint_of "$addr" "$3")" ] && return 0
	done
	return 1
}

create_link() { # name
	prepare_place
	# A leftover of an interrupted run in the transit namespace would block the name.
	if [ -n "$TR_NS$IF_NS" ] && ip_tr link show dev "$1" >/dev/null 2>&1; then
		cmd ip_tr link del dev "$1"
	fi
	if [ "$WG_IMPL" = kernel ]; then
		cmd ip_tr link add dev "$1" type wireguard
	else
		start_wireguard_go "$1"
	fi
	iso place "$1"
	# In our group at once: an interrupted run leaves a managed link the next sync cleans up.
	cmd ip_if link set dev "$1" group "$P_GROUP"
	# TUN links would get a random kernel link-local beside ours; babeld must see ours.
	[ "$WG_IMPL" = wireguard-go ] && cmd ip_if link set dev "$1" addrgenmode none
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

# The last lines a daemon printed, for an error message.
log_tail() { tail -n 3 "$1" 2>/dev/null | tr '\n' ' '; }

start_wireguard_go() { # name
	start_daemon "$STAGE/wireguard-go.log" in_tr wireguard-go "$1" ||
		die "wireguard-go $1 failed: $(log_tail "$STAGE/wireguard-go.log")"
	[ "$DRY" = 1 ] && return 0
	# Its parent returns before the daemon has set the device up; a link moved to another
	# namespace before that makes the daemon fail. Its control socket answers once it is ready.
	in_tr wg show "$1" listen-port >/dev/null 2>&1 ||
		die "wireguard-go $1 did not come up: $(log_tail "$STAGE/wireguard-go.log")"
}

# wireguard-go exits a moment after its link is deleted; until then it holds the link's UAPI
# socket and UDP port, which a link of that name at a new place needs.
wait_wireguard_go_gone() { # names...
	for name; do
		for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do
			wg show "$name" listen-port >/dev/null 2>&1 || continue 2
			sleep 0.1 2>/dev/null || sleep 1
		done
		die "wireguard-go for $name did not exit after its link was deleted"
	done
}

configure_link() { # words name port pubkey host eport linklocal
	cl_words=" $1 "
	shift
	# Without "peers" the link has exactly the planned peer (decide.sh), so nothing to remove.
	case $cl_words in *" peers "*)
		for old in $(wg_if show "$1" peers 2>/dev/null); do
			[ "$old" = "$3" ] || cmd wg_if set "$1" peer "$old" remove
		done
		;;
	esac
	case $cl_words in *" wg "* | *" peers "*)
		cmd wg_if set "$1" private-key "$STAGE/private.key" listen-port "$2" fwmark "$P_FWMARK" \
			peer "$3" endpoint "$(endpoint_of "$4" "$5")" allowed-ips 0.0.0.0/0,::/0
		;;
	esac
	case $cl_words in *" master "*) prepare_place; cmd ip_if link set dev "$1" master "$LINK_MASTER" ;; esac
	case $cl_words in *" link "*) cmd ip_if link set dev "$1" mtu "$P_MTU" group "$P_GROUP" ;; esac
	case $cl_words in *" addr "*) cmd ip_if addr replace "$6" dev "$1" ;; esac
	case $cl_words in *" up "*) cmd ip_if link set dev "$1" up ;; esac
	return 0
}

# Ensure each planned link, leave the right ones alone, delete every other managed link.
sync_links() {
	[ -n "$P_NAMES" ] && prepare_place
	read_facts
	plan_diffs >"$STAGE/diffs" || die "cannot compare the links with the plan"
	stale=
	while read -r what name port pub host eport ll cur words <&5; do
		if [ "$what" = stale ]; then
			stale="$stale $name"
			continue
		fi
		case " $words " in
		*" missing "*)
			create_link "$name"
			configure_link "wg link addr up${LINK_MASTER:+ master}" "$name" "$port" "$pub" "$host" "$eport" "$ll"
			ADDED="$ADDED $name"
			continue
			;;
		*" foreign "*)
			die "$name exists and is not a WireGuard link: rename or delete it (rait-fleet never takes a link it did not make)"
			;;
		*" resolve "*)
			resolved=
			for w in $words; do [ "$w" = resolve ] || resolved="${resolved:+$resolved }$w"; done
			endpoint_matches "$cur" "$host" "$eport" || resolved="${resolved:+$resolved }wg"
			words=$resolved
			;;
		esac
		if [ -z "$words" ]; then
			KEPT="$KEPT $name"
		else
			[ "$VERBOSE" = 1 ] && say "$name differs: $words"
			configure_link "$words" "$name" "$port" "$pub" "$host" "$eport" "$ll"
			UPDATED="$UPDATED $name"
		fi
	done 5<"$STAGE/diffs"
	# babeld forgets a link while it still exists, so it can say goodbye cleanly.
	# shellcheck disable=SC2086 # a list of interface names
	babel_forget $stale
	for name in $stale; do
		cmd ip_if link del dev "$name"
		REMOVED="$REMOVED $name"
	done
}
