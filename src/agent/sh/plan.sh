# The plan: "key value" lines, one "link" line per planned link (docs/agent-protocol.md).
# Every value is checked again here: nothing unchecked reaches a command or a config file.

# Each family's interface prefix, and the distinct ones space-separated: a link carrying any of
# them (and our group) is managed.
P_PREFIX4=
P_PREFIX6=
P_PREFIX=
P_GROUP=
P_MTU=
P_FWMARK=
P_ISOLATION=
# VRF or netns names; empty = the current namespace.
P_IFNS=
P_TRANSIT=
P_CONFIG_DIR=
P_BABELD=0
# agent: babeld is ours to start, restart and stop; external: the operator runs it (RAIT's way).
P_BABELD_MANAGE=agent
# A version 2 plan's address family: the family of all its links.
P_FAMILY=
P_BABELD_SOCKET=
# The planned links' names (their lines stay in the plan file, which plan_diffs reads).
P_NAMES=
# The plan the last deploy applied, kept in config_dir (no secret in it).
LAST_PLAN=
# up, or down: the stored plan of a node taken down.
P_STATE=up

# The same rules as the inventory's checks (src/inventory/checks.ts); one table of good and bad
# values runs against both (test/unit/validation-table.test.ts).
valid_name() { # interface name: [A-Za-z0-9_-]{1,15}
	case $1 in '' | *[!A-Za-z0-9_-]*) return 1 ;; esac
	[ ${#1} -le 15 ]
}
valid_prefix() { valid_name "$1" && case $1 in [A-Za-z]*) ;; *) false ;; esac; }
valid_ns() { # netns or VRF name (a VRF is a link): [A-Za-z0-9][A-Za-z0-9_.-]{0,14}; "-": none
	[ "$1" = - ] && return 0
	case $1 in [A-Za-z0-9]*) ;; *) return 1 ;; esac
	case $1 in *[!A-Za-z0-9_.-]*) return 1 ;; esac
	[ ${#1} -le 15 ]
}
valid_uint() { case $1 in '' | *[!0-9]*) return 1 ;; esac; [ ${#1} -le 10 ]; }
valid_port() { valid_uint "$1" && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }
valid_path() { # absolute; components of [A-Za-z0-9._+-], none "." or ".."; a final "/" allowed
	case $1 in /?*) ;; *) return 1 ;; esac
	case $1 in *[!A-Za-z0-9_./+-]* | *//* | */./* | */. | */../* | */..) return 1 ;; esac
}
valid_key() { # base64 of 32 bytes: 42 characters, one of the 16 a 32nd byte can end in, "="
	[ ${#1} -eq 44 ] || return 1
	case $1 in *[!A-Za-z0-9+/=]* | *=*= | *[!AEIMQUYcgkosw048]=) return 1 ;; esac
	case $1 in *=) ;; *) return 1 ;; esac
}
valid_dns() { # labels of [A-Za-z0-9-], 1-63, no "-" at either end; 253 at most; no final "."
	[ ${#1} -le 253 ] || return 1
	case $1 in '' | .* | *. | *..*) return 1 ;; esac
	vd_ifs=$IFS
	IFS=.
	# shellcheck disable=SC2086 # split into labels (no globbing: set -f)
	set -- $1
	IFS=$vd_ifs
	for vd_label; do
		case $vd_label in -* | *- | *[!A-Za-z0-9-]*) return 1 ;; esac
		[ ${#vd_label} -le 63 ] || return 1
	done
}
valid_ip4() { # dotted quad, each 0-255 without leading zeros
	vi_ifs=$IFS
	IFS=.
	# shellcheck disable=SC2086 # split into octets (no globbing: set -f)
	set -- $1
	IFS=$vi_ifs
	[ $# -eq 4 ] || return 1
	for vi_octet; do
		case $vi_octet in '' | *[!0-9]* | 0?*) return 1 ;; esac
		[ ${#vi_octet} -le 3 ] && [ "$vi_octet" -le 255 ] || return 1
	done
}
valid_ip6() { # hex groups of 1-4, at most one "::", 8 groups (an IPv4 tail counts two); no zone
	case $1 in *:*) ;; *) return 1 ;; esac
	case $1 in *[!0-9A-Fa-f:.]* | *:::* | *::*::*) return 1 ;; esac
	v6_addr=$1
	case $v6_addr in *.*)
		valid_ip4 "${v6_addr##*:}" || return 1
		v6_addr=${v6_addr%:*}:0:0
		;;
	esac
	case $v6_addr in
	*::*) v6_gap=1 v6_left=${v6_addr%%::*} v6_right=${v6_addr#*::} ;;
	*) v6_gap=0 v6_left=$v6_addr v6_right= ;;
	esac
	v6_groups=0
	for v6_part in "$v6_left" "$v6_right"; do
		[ -n "$v6_part" ] || continue
		case $v6_part in :* | *: | *.*) return 1 ;; esac
		v6_ifs=$IFS
		IFS=:
		# shellcheck disable=SC2086 # split into groups (no globbing: set -f)
		set -- $v6_part
		IFS=$v6_ifs
		for v6_group; do
			case $v6_group in '' | ?????*) return 1 ;; esac
			v6_groups=$((v6_groups + 1))
		done
	done
	if [ "$v6_gap" = 1 ]; then [ "$v6_groups" -le 7 ]; else [ "$v6_groups" -eq 8 ]; fi
}
valid_host() { valid_ip6 "$1" || valid_dns "$1"; }
valid_ll() { case $1 in *[!0-9a-fA-F:/]* | */*/* | [!fF]*) return 1 ;; */[0-9]*) return 0 ;; esac; return 1; }

bad_plan() { die "plan line $lineno: bad $1: $2"; }

# A plan of version 2 (left by an older rait-fleet, until a deploy replaces it) has one family and
# one prefix for every link: read the same way.
read_plan() { # file
	[ -r "$1" ] || die "no plan in the payload"
	# One awk reads the file (read would take it a byte at a time: 60 ms for a 1,000-node fleet's
	# plan), numbers its lines and marks a link name seen on an earlier line "dup" (the shell would
	# compare every name with all the others: n²). The lines are split by the shell itself.
	rp_text=$(awk '{ print NR, ($1 == "link" && seen[$2]++) ? "dup" : "-", $0 }' "$1") || die "cannot read the plan $1"
	version=
	rp_ifs=$IFS
	IFS=$NL
	# shellcheck disable=SC2086 # one numbered line each
	set -- $rp_text
	IFS=$rp_ifs
	for rp_line; do
		# shellcheck disable=SC2086 # the fields of a plan line
		plan_line $rp_line
	done
	[ -n "$version" ] || die "plan has no 'version' line"
	for v in P_PREFIX4 P_PREFIX6 P_GROUP P_MTU P_FWMARK P_ISOLATION P_CONFIG_DIR; do
		eval "[ -n \"\$$v\" ]" || die "plan lacks $v"
	done
	P_PREFIX=$P_PREFIX4
	[ "$P_PREFIX6" = "$P_PREFIX4" ] || P_PREFIX="$P_PREFIX4 $P_PREFIX6"
	if [ "$P_BABELD" = 1 ]; then
		{ [ -n "$P_BABELD_CONFIG" ] && [ -n "$P_BABELD_SOCKET" ]; } || die "plan enables babeld without babeld_config/babeld_socket"
	fi
	LAST_PLAN=$P_CONFIG_DIR/plan
	isolation_init
	placement_init
}

# One line of the plan, as read_plan numbers it: its fields as `read -r key a b c d e f g h` would
# set them (h takes the rest).
plan_line() { # lineno dup|- key fields...
	lineno=$1 rp_seen=$2 key=${3-} a=${4-} b=${5-} c=${6-} d=${7-} e=${8-} f=${9-} g=${10-} h=
	[ $# -le 10 ] || { shift 10; h=$*; }
	case $key in
	version) case $a in 2 | 3) version=$a ;; *) bad_plan version "$a" ;; esac ;;
	family) case $a in ip4 | ip6) P_FAMILY=$a ;; *) bad_plan family "$a" ;; esac ;;
	state) case $a in up | down) P_STATE=$a ;; *) bad_plan state "$a" ;; esac ;;
	prefix)
		if [ -z "$b" ]; then
			valid_prefix "$a" || bad_plan prefix "$a"
			P_PREFIX4=$a P_PREFIX6=$a
		else
			valid_prefix "$b" || bad_plan prefix "$b"
			case $a in ip4) P_PREFIX4=$b ;; ip6) P_PREFIX6=$b ;; *) bad_plan "prefix family" "$a" ;; esac
		fi
		;;
	group) valid_uint "$a" || bad_plan group "$a"; P_GROUP=$a ;;
	mtu) { valid_uint "$a" && [ "$a" -ge 1280 ]; } || bad_plan mtu "$a"; P_MTU=$a ;;
	fwmark) valid_uint "$a" || bad_plan fwmark "$a"; P_FWMARK=$a ;;
	isolation) case $a in none | netns | vrf) P_ISOLATION=$a ;; *) bad_plan isolation "$a" ;; esac ;;
	# A namespace name never starts with "-" (valid_ns): ${a#-} turns the plan's "-" into none.
	interface_namespace) valid_ns "$a" || bad_plan "$key" "$a"; P_IFNS=${a#-} ;;
	transit_namespace) valid_ns "$a" || bad_plan "$key" "$a"; P_TRANSIT=${a#-} ;;
	config_dir) valid_path "$a" || bad_plan "$key" "$a"; P_CONFIG_DIR=$a ;;
	babeld) case $a in 0 | 1) P_BABELD=$a ;; *) bad_plan babeld "$a" ;; esac ;;
	babeld_config) valid_path "$a" || bad_plan "$key" "$a"; P_BABELD_CONFIG=$a ;;
	babeld_socket) valid_path "$a" || bad_plan "$key" "$a"; P_BABELD_SOCKET=$a ;;
	babeld_manage) case $a in agent | external) P_BABELD_MANAGE=$a ;; *) bad_plan "$key" "$a" ;; esac ;;
	link)
		h=${h:-$P_FAMILY}
		case $h in ip4) rp_prefix=$P_PREFIX4 ;; ip6) rp_prefix=$P_PREFIX6 ;; *) bad_plan "address family" "$h" ;; esac
		valid_name "$a" || bad_plan "interface name" "$a"
		case $a in "$rp_prefix"?*) ;; *) bad_plan "interface name (not prefix ${rp_prefix:-(none)} of $h)" "$a" ;; esac
		valid_port "$b" || bad_plan "listen port" "$b"
		valid_key "$c" || bad_plan "public key" "$c"
		# "-": the peer is behind NAT; its address comes from its first handshake.
		{ [ "$d" = - ] || valid_host "$d"; } || bad_plan "endpoint host" "$d"
		valid_port "$e" || bad_plan "endpoint port" "$e"
		valid_ll "$f" || bad_plan "link-local address" "$f"
		{ valid_uint "$g" && [ "$g" -le 65535 ]; } || bad_plan keepalive "$g"
		[ "$rp_seen" != dup ] || bad_plan "duplicate interface" "$a"
		P_NAMES="$P_NAMES $a"
		;;
	'' | '#'*) ;;
	*) bad_plan key "$key" ;;
	esac
}
