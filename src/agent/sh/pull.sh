# Pull mode (docs/pull-mode.md): the node fetches its own file of the registry the control machine
# published, checks its Ed25519 signature with openssl against the keys it trusts, refuses an older,
# expired or foreign one, and applies the plan in it through the same steps as a deploy. Everything
# that can refuse a registry does so before anything changes. The last registry accepted is kept; a
# node that cannot fetch keeps running the plan it has (and boots into it).

# The last registry accepted, byte for byte, and "epoch ok" or "epoch failed reason" of the last pull.
PULL_DIR=$STATE_DIR/pull
PULL_REGISTRY=$PULL_DIR/registry
PULL_LAST=$PULL_DIR/last
# The enrollment deploy wrote (<config_dir>/pull): this node's name, the URL, the keys it trusts.
PULL_CONF=
PULL_NODE=
PULL_URL=
PULL_SIGNERS=
# The registry being pulled: its signature (base64), its publication (the header inside the signed
# content).
R_SIG=
R_SERIAL=
R_PUBLISHED=
R_EXPIRES=
R_SIGNER=
R_NEXT=
# The node the registry is for.
RH_NODE=
# 1: the registry is the one this node runs; nothing to do.
PULL_UNCHANGED=0

# The same rule as the inventory's isPullUrl (src/inventory/checks.ts; the validation table).
valid_url() {
	case $1 in http://*) vu_rest=${1#http://} ;; https://*) vu_rest=${1#https://} ;; *) return 1 ;; esac
	vu_host=${vu_rest%%/*}
	vu_path=${vu_rest#"$vu_host"}
	case $vu_path in *[!A-Za-z0-9._~+/-]*) return 1 ;; esac
	case $vu_host in
	\[*\]*)
		vu_addr=${vu_host#\[}
		vu_addr=${vu_addr%%\]*}
		vu_port=${vu_host#*\]}
		valid_ip6 "$vu_addr" || return 1
		;;
	*)
		vu_addr=${vu_host%%:*}
		vu_port=${vu_host#"$vu_addr"}
		valid_dns "$vu_addr" || return 1
		;;
	esac
	case $vu_port in '') ;; :*) valid_port "${vu_port#:}" ;; *) return 1 ;; esac
}

# Node names (src/inventory/checks.ts isName): they name the node's file in the registry.
valid_node_name() {
	case $1 in '' | [!A-Za-z0-9]* | *[!A-Za-z0-9_.-]*) return 1 ;; esac
	[ ${#1} -le 64 ]
}

# A pull that changes nothing stops here: the reason printed, exit 1 (and recorded for status: die).
pull_refuse() { die "registry refused, links untouched: $*"; }

# The time now, once per run (check_expiry and pull_record both need it).
PULL_NOW=
pull_now() { [ -n "$PULL_NOW" ] || PULL_NOW=$(date +%s); }

pull_record() { # "ok" | "failed reason"
	[ -d "$PULL_DIR" ] || mkdir -p "$PULL_DIR" || return 0
	pull_now
	case $1 in
	ok) printf '%s ok\n' "$PULL_NOW" ;;
	*) printf '%s %s\n' "$PULL_NOW" "$1" | tr -d '\r' ;;
	esac >"$PULL_DIR/.last" && mv -f "$PULL_DIR/.last" "$PULL_LAST"
}

read_pull_config() {
	[ -r "$PULL_CONF" ] || die "not enrolled for pull mode: no $PULL_CONF (set mesh.pull in the inventory and deploy this node)"
	while read -r pc_key pc_value pc_rest; do
		[ -z "$pc_rest" ] || die "$PULL_CONF: bad line: $pc_key $pc_value $pc_rest"
		case $pc_key in
		node) valid_node_name "$pc_value" || die "$PULL_CONF: bad node name: $pc_value"; PULL_NODE=$pc_value ;;
		url) valid_url "$pc_value" || die "$PULL_CONF: bad url: $pc_value"; PULL_URL=$pc_value ;;
		signer) valid_key "$pc_value" || die "$PULL_CONF: bad signer key: $pc_value"; PULL_SIGNERS="$PULL_SIGNERS $pc_value" ;;
		'' | '#'*) ;;
		*) die "$PULL_CONF: unknown key $pc_key" ;;
		esac
	done <"$PULL_CONF"
	{ [ -n "$PULL_NODE" ] && [ -n "$PULL_URL" ] && [ -n "$PULL_SIGNERS" ]; } || die "$PULL_CONF lacks node, url or signer: deploy this node again"
}

# OpenSSL 1.1.1 brought Ed25519 to pkeyutl -rawin; older ones and LibreSSL cannot verify it.
check_openssl() {
	command -v openssl >/dev/null 2>&1 || pull_refuse "missing program openssl, which verifies the registry's signature: install package $(package_of openssl) (OpenSSL 1.1.1 or later)"
	co_version=$(openssl version 2>/dev/null)
	case $co_version in
	"OpenSSL 1.1.1"* | "OpenSSL "[3-9].*) ;;
	*) pull_refuse "${co_version:-openssl} cannot verify Ed25519 signatures (openssl pkeyutl -rawin): install OpenSSL 1.1.1 or later" ;;
	esac
}

# GET with curl, else wget; at most 64 MiB, 60 s.
pull_fetch() { # url file
	if command -v curl >/dev/null 2>&1; then
		[ "$VERBOSE" = 1 ] && say "[#] curl -fsS --max-time 60 --max-filesize 67108864 -o $2 $1"
		curl -fsS --max-time 60 --max-filesize 67108864 -o "$2" "$1" 2>"$STAGE/fetch.err"
	elif command -v wget >/dev/null 2>&1; then
		[ "$VERBOSE" = 1 ] && say "[#] wget -q -T 60 -O $2 $1"
		wget -q -T 60 -O "$2" "$1" 2>"$STAGE/fetch.err"
	else
		pull_refuse "neither curl nor wget is installed: install package $(package_of curl)"
	fi
}

# A registry file's first line ("rait-fleet-registry 1 SIGNATURE") into R_SIG, and the publication
# from its signed content (the lines before its first file) into R_*, every value checked, all read
# by the shell. False (2) when the first line is not a registry's, false (1) for a bad header. The
# signer only says which trusted key to verify with.
read_registry() { # file
	R_SIG=''
	R_SERIAL=''
	R_PUBLISHED=''
	R_EXPIRES=''
	R_SIGNER=''
	R_NEXT=''
	rh_node=
	rh_version=
	{
		read -r rb_magic rb_version rb_sig rb_rest || return 2
		[ "$rb_magic" = rait-fleet-registry ] && [ "$rb_version" = 1 ] && [ -z "$rb_rest" ] || return 2
		case $rb_sig in *[!A-Za-z0-9+/=]*) return 2 ;; esac
		[ ${#rb_sig} -eq 88 ] || return 2
		R_SIG=$rb_sig
		while read -r rh_key rh_value rh_rest; do
			case $rh_key in file | end) break ;; esac
			[ -z "$rh_rest" ] || return 1
			case $rh_key in
			registry) rh_version=$rh_value ;;
			node) rh_node=$rh_value ;;
			serial) valid_uint "$rh_value" && R_SERIAL=$rh_value ;;
			published) valid_uint "$rh_value" && R_PUBLISHED=$rh_value ;;
			expires) valid_uint "$rh_value" && R_EXPIRES=$rh_value ;;
			signer) valid_key "$rh_value" && R_SIGNER=$rh_value ;;
			next_signer) valid_key "$rh_value" && R_NEXT=$rh_value ;;
			*) return 1 ;;
			esac
		done
	} <"$1"
	[ "$rh_version" = 1 ] && [ -n "$R_SERIAL" ] && [ -n "$R_PUBLISHED" ] && [ -n "$R_EXPIRES" ] && [ -n "$R_SIGNER" ] || return 1
	RH_NODE=$rh_node
}

# The signature, with the key the header names if this node trusts it (docs/pull-mode.md).
verify_registry() { # body
	case " $PULL_SIGNERS " in
	*" $R_SIGNER "*) ;;
	*) pull_refuse "signed by $R_SIGNER, a key this node does not trust (it trusts:$PULL_SIGNERS)" ;;
	esac
	check_openssl
	printf '%s\n' '-----BEGIN PUBLIC KEY-----' "MCowBQYDK2VwAyEA$R_SIGNER" '-----END PUBLIC KEY-----' >"$STAGE/signer.pem"
	printf '%s' "$R_SIG" | openssl base64 -d -A >"$STAGE/registry.sig" 2>/dev/null
	[ "$(wc -c <"$STAGE/registry.sig" | tr -d ' ')" = 64 ] || pull_refuse "its signature is not 64 bytes of base64"
	[ "$VERBOSE" = 1 ] && say "[#] openssl pkeyutl -verify -pubin -inkey signer.pem -rawin -in registry.body -sigfile registry.sig"
	openssl pkeyutl -verify -pubin -inkey "$STAGE/signer.pem" -rawin -in "$1" -sigfile "$STAGE/registry.sig" >"$STAGE/verify.out" 2>&1 ||
		pull_refuse "its signature does not verify with $R_SIGNER: the registry was changed after it was signed ($(log_tail "$STAGE/verify.out"))"
}

# Seconds as a person reads them.
span() { awk -v s="$1" 'BEGIN { if (s < 120) printf "%d s", s; else if (s < 7200) printf "%d min", s / 60; else if (s < 172800) printf "%d h", s / 3600; else printf "%d days", s / 86400 }'; }

# Each "file NAME LINES NEWLINE" section of the signed content into the stage, each rait.conf (one per
# transport: rait.conf, and rait-ip4.conf or rait-ip6.conf for a second family) with this
# node's private key in place of "<redacted>"; only the files a registry may carry, each once.
extract_registry() { # body
	awk -v dir="$STAGE" -v keyfile="$STAGE/private.key" '
	BEGIN {
		getline key <keyfile
		allowed = " plan rait.conf rait-ip4.conf rait-ip6.conf peers.conf babeld.conf rait-fleet.service rait-fleet-heal.service rait-fleet-heal.timer rait-fleet-pull.service rait-fleet-pull.timer "
	}
	function fail(why) { print why >"/dev/stderr"; bad = 1; exit 1 }
	left > 0 {
		line = $0
		if (name ~ /^rait(-ip[46])?\.conf$/ && line == "PrivateKey = \"<redacted>\"") { line = "PrivateKey = \"" key "\""; keys[name]++ }
		tail = (left > 1 || nl) ? "\n" : ""
		printf("%s%s", line, tail) >(dir "/" name)
		if (--left == 0) close(dir "/" name)
		next
	}
	$1 == "file" {
		if (NF != 4 || index(allowed, " " $2 " ") == 0 || seen[$2]++ || $3 !~ /^[0-9]+$/ || $4 !~ /^[01]$/) fail("bad file line " NR ": " $0)
		name = $2; left = $3 + 0; nl = $4; files++
		printf("") >(dir "/" name)
		if (left == 0) close(dir "/" name)
		next
	}
	$0 == "end" { ended = 1; exit }
	files > 0 { fail("unexpected line " NR ": " $0) }
	END {
		if (bad) exit 1
		if (!ended) { print "cut short: no end line" >"/dev/stderr"; exit 1 }
		if (!seen["plan"] || !seen["rait.conf"]) { print "no plan or rait.conf in it" >"/dev/stderr"; exit 1 }
		for (name in seen) if (name ~ /^rait(-ip[46])?\.conf$/ && keys[name] != 1) { print name " has no PrivateKey line to fill" >"/dev/stderr"; exit 1 }
	}' "$1" 2>"$STAGE/extract.err"
}

# The serial of the registry this node runs; nothing when it has none (a subshell: R_* stay).
held_serial() {
	[ -f "$PULL_REGISTRY" ] && read_registry "$PULL_REGISTRY" && printf '%s' "$R_SERIAL"
}

# For pull: the node's registry file fetched, checked and unpacked into a new private stage, with
# this node's private key. Sets PULL_UNCHANGED when it is the very registry this node runs: then
# only the fetch, a cmp, the time and the record of the attempt start a process (docs/pull-mode.md).
stage_pulled() {
	APPLY_KIND=pull
	sp_dir=$(agent_dir)
	PULL_CONF=$sp_dir/pull
	read_pull_config
	STAGE=$(mktemp -d) || die "mktemp -d failed"
	sp_url=$PULL_URL/nodes/$PULL_NODE
	if ! pull_fetch "$sp_url" "$STAGE/fetched"; then
		sp_held=$(held_serial)
		pull_refuse "cannot fetch $sp_url: $(log_tail "$STAGE/fetch.err")${sp_held:+ (it keeps running registry serial $sp_held)}"
	fi
	read_registry "$STAGE/fetched"
	case $? in
	0) ;;
	2) pull_refuse "$sp_url is not a rait-fleet registry file (it begins: $(head -n 1 "$STAGE/fetched" | cut -c 1-60 | tr -cd 'A-Za-z0-9 ._:/+=-'))" ;;
	*) pull_refuse "the registry's header is malformed" ;;
	esac
	if [ -f "$PULL_REGISTRY" ] && cmp -s "$STAGE/fetched" "$PULL_REGISTRY"; then
		# Verified when it was accepted; it only has to be still valid.
		check_expiry
		say "registry serial $R_SERIAL: already applied, nothing to do"
		PULL_UNCHANGED=1
		pull_record ok
		return 0
	fi
	sp_held=$(held_serial)
	# The signed content: all but the first line.
	sed 1d "$STAGE/fetched" >"$STAGE/registry.body"
	verify_registry "$STAGE/registry.body"
	[ "$RH_NODE" = "$PULL_NODE" ] || pull_refuse "it is the registry of node $RH_NODE, not of $PULL_NODE"
	check_expiry
	if [ -n "$sp_held" ] && [ "$R_SERIAL" -le "$sp_held" ]; then
		pull_refuse "serial $R_SERIAL is not newer than serial $sp_held, which this node runs: an old registry replayed, or a serial published twice"
	fi
	stage_private_key "$sp_dir"
	extract_registry "$STAGE/registry.body" || pull_refuse "its content is malformed: $(log_tail "$STAGE/extract.err")"
	PLAN_FILE=$STAGE/plan
	sp_config_dir=$(sed -n 's/^config_dir //p' "$PLAN_FILE")
	[ "${sp_config_dir%/}" = "$sp_dir" ] || pull_refuse "its config_dir $sp_config_dir is not $sp_dir, where this agent runs: a new config_dir needs a deploy"
	say "registry serial $R_SERIAL, signed by $R_SIGNER: applying it"
}

check_expiry() {
	pull_now
	[ "$PULL_NOW" -le "$R_EXPIRES" ] || pull_refuse "registry serial $R_SERIAL expired $(span $((PULL_NOW - R_EXPIRES))) ago: the control machine must publish again"
}

# After the registry's plan was applied: it is the last good one, and the keys it names are the ones
# this node trusts from now on (a rotation: the next key; a switch: the old key no longer).
accept_registry() {
	[ -d "$PULL_DIR" ] || mkdir -p "$PULL_DIR" || die "cannot create $PULL_DIR"
	write_atomic "$PULL_REGISTRY" 0600 <"$STAGE/fetched"
	{
		printf 'node %s\nurl %s\nsigner %s\n' "$PULL_NODE" "$PULL_URL" "$R_SIGNER"
		[ -n "$R_NEXT" ] && printf 'signer %s\n' "$R_NEXT"
	} >"$STAGE/pull.trust"
	cmp -s "$STAGE/pull.trust" "$PULL_CONF" || write_atomic "$PULL_CONF" 0644 <"$STAGE/pull.trust"
	pull_record ok
}

# deploy: the enrollment (or its end, when mesh.pull was turned off). A registry kept from another
# signing history (none of its keys trusted any more: a new fleet) is dropped with it, so the
# serials of the new one count from its first.
install_pull_config() {
	if [ ! -f "$STAGE/pull" ]; then
		disarm_pull
		return 0
	fi
	install_file pull "$P_CONFIG_DIR/pull" 0644
	{ [ "$DRY" = 0 ] && [ -f "$PULL_REGISTRY" ]; } || return 0
	read_registry "$PULL_REGISTRY" || return 0
	grep -q -x -e "signer $R_SIGNER" -e "signer ${R_NEXT:-none}" "$STAGE/pull" || cmd rm -f "$PULL_REGISTRY" "$PULL_LAST"
}

# down, or mesh.pull turned off: nothing may pull any more.
disarm_pull() {
	[ -f "$P_CONFIG_DIR/pull" ] && cmd rm -f "$P_CONFIG_DIR/pull"
	return 0
}

# For status: the registry this node runs and how its last pull went; nothing when not enrolled.
pull_status_json() {
	[ -f "$P_CONFIG_DIR/pull" ] || return 0
	# shellcheck disable=SC2046 # three numbers, or three nulls
	set -- $( { read_registry "$PULL_REGISTRY" && echo "$R_SERIAL $R_PUBLISHED $R_EXPIRES"; } 2>/dev/null || echo null null null)
	printf ',"pull":{"serial":%s,"published":%s,"expires":%s,"lastAttempt":' "$1" "$2" "$3"
	psj_when=null
	psj_result=
	psj_reason=
	[ -r "$PULL_LAST" ] && read -r psj_when psj_result psj_reason <"$PULL_LAST"
	valid_uint "$psj_when" || psj_when=null
	[ "$psj_result" = ok ] && psj_reason=
	[ "$psj_result" = failed ] && [ -z "$psj_reason" ] && psj_reason="no reason recorded"
	printf '%s,"lastError":' "$psj_when"
	json_str "$psj_reason"
	printf '}'
}
