# The status report: every managed link as WireGuard and ip see it, babeld's neighbours and
# routes, versions, and a hash of each deployed file. Reads only; private keys never leave.

V_WG=
V_BABELD=
V_KERNEL=
S_HASHES=
S_LINKS=
S_BABEL='{"running":false,"configHash":null,"neighbours":[],"routes":0}'

# The deployed files' hashes, and the one of the config our babeld runs, from one digest_files.
config_hashes_json() {
	ch_babeld=${P_BABELD_CONFIG:-$P_CONFIG_DIR/babeld.conf}
	digest_files sha256 "$P_CONFIG_DIR/rait.conf" "$P_CONFIG_DIR/rait-ip4.conf" "$P_CONFIG_DIR/rait-ip6.conf" \
		"$P_CONFIG_DIR/peers.conf" "$ch_babeld" "$BABELD_RUNNING" 2>/dev/null
	HASHES=$DIGESTS
	S_HASHES=
	for ch_pair in "rait.conf=$P_CONFIG_DIR/rait.conf" "rait-ip4.conf=$P_CONFIG_DIR/rait-ip4.conf" \
		"rait-ip6.conf=$P_CONFIG_DIR/rait-ip6.conf" "peers.conf=$P_CONFIG_DIR/peers.conf" "babeld.conf=$ch_babeld"; do
		digest_of "$HASHES" "${ch_pair#*=}" || continue
		S_HASHES="$S_HASHES${S_HASHES:+,}\"${ch_pair%%=*}\":\"$DIGEST\""
	done
}

# Into S_LINKS: one LinkState per managed link, in ip's order, from the facts (facts.sh); the
# WireGuard implementation serving them goes to $STAGE/impl. Only peer facts are printed, never the
# keys of the interface lines. Set, not printed: awk runs straight in its own $(...).
link_state_json() {
	S_LINKS=$(awk -v PREFIX="$P_PREFIX" -v GROUP="$P_GROUP" -v wgfile="$STAGE/wg" \
		-v implfile="$STAGE/impl" "$FACTS_AWK"'
	function esc(s) { gsub(/[^A-Za-z0-9+\/=_.:\[\]-]/, "", s); return s }
	function uint(s) { return (s ~ /^[0-9]+$/) ? s : 0 }
	BEGIN { now = epoch() }
	FILENAME == wgfile { wg_line(); next }
	link_line() && managed() {
		n = L_NAME
		p = PEER[n]
		age = "null"
		if (uint(HS[n, p]) > 0) { age = now - HS[n, p]; if (age < 0) age = 0 }
		ep = (EP[n, p] == "(none)") ? "" : EP[n, p]
		printf "%s{\"name\":\"%s\",\"publicKey\":\"%s\",\"listenPort\":%s,\"endpoint\":\"%s\",", sep, esc(n), esc(p), uint(LPORT[n]), esc(ep)
		printf "\"handshakeAge\":%s,\"rxBytes\":%s,\"txBytes\":%s,\"mtu\":%s,\"up\":%s}", age, uint(RX[n, p]), uint(TX[n, p]), uint(L_MTU), L_UP ? "true" : "false"
		sep = ","
		if (impl == "") impl = (L_KIND == "wireguard") ? "kernel" : "wireguard-go"
	}
	END { if (impl != "") print impl >implfile }' "$STAGE/wg" "$STAGE/ip")
}

# babeld's dump, asked once: its version, neighbours and installed routes; and the hash of the
# config our babeld runs (null when it is not ours or not running), which the control machine
# compares with the plan's. Sets V_BABELD and S_BABEL.
babel_json() {
	dump=
	# What routes the mesh is whatever babeld answers on the socket.
	[ "$P_BABELD" = 1 ] && dump=$(babel_ctl dump 2>/dev/null)
	config=null
	case $dump in *"
ok"*)
		[ "$P_BABELD_MANAGE" = agent ] && babeld_pid >/dev/null && digest_of "$HASHES" "$BABELD_RUNNING" && config="\"$DIGEST\""
		;;
	esac
	# A here-document, not printf in a pipe: one process fewer (two while the dump fits a pipe).
	S_BABEL=$(awk -v config="$config" '
	function esc(s) { gsub(/[^A-Za-z0-9_.:\/-]/, "", s); return s }
	$1 == "version" && version == "" { version = $2; sub(/^babeld-/, "", version) }
	$1 == "ok" { running = 1 }
	$1 == "add" && $2 == "interface" { known[$3] = 1 }
	$1 == "add" && $2 == "route" && / installed yes / { routes++ }
	$1 == "add" && $2 == "neighbour" {
		split("", v)
		for (i = 4; i < NF; i += 2) v[$i] = $(i + 1)
		rtt = (v["rtt"] ~ /^[0-9]+(\.[0-9]+)?$/) ? v["rtt"] : "null"
		n++
		nif[n] = v["if"]
		line[n] = sprintf("{\"interface\":\"%s\",\"address\":\"%s\",\"rxcost\":%d,\"txcost\":%d,\"cost\":%d,\"rtt\":%s,\"reach\":\"%s\"}", \
			esc(v["if"]), esc(v["address"]), v["rxcost"], v["txcost"], v["cost"], rtt, esc(v["reach"]))
	}
	# babeld keeps neighbours of a flushed interface around for a while: not live, not listed.
	END {
		print esc(version)
		if (!running) { print "{\"running\":false,\"configHash\":null,\"neighbours\":[],\"routes\":0}"; exit }
		printf "{\"running\":true,\"configHash\":%s,\"neighbours\":[", config
		for (i = 1; i <= n; i++) if (nif[i] in known) { printf "%s%s", sep, line[i]; sep = "," }
		printf "],\"routes\":%d}\n", routes
	}' <<-EOF
		$dump
	EOF
	)
	V_BABELD=${S_BABEL%%"$NL"*}
	S_BABEL=${S_BABEL#*"$NL"}
	# A babeld that does not answer still has a version to report.
	[ -n "$V_BABELD" ] || { version_of babeld -V; V_BABELD=$VERSION; }
}

# Into VERSION: the first word of the program's first line that looks like a version (1.2...),
# from "v" or its first digit on: "wireguard-tools v1.0.20210914 - ..." gives v1.0.20210914.
# Set, not printed: a function printed into $(...) costs a process more.
version_of() { # program args...
	VERSION=
	command -v "$1" >/dev/null 2>&1 || return 0
	vo_out=$("$@" 2>&1)
	# shellcheck disable=SC2086 # the words of the first line (no globbing: set -f)
	set -- ${vo_out%%"$NL"*}
	for vo_word; do
		case $vo_word in *[0-9].[0-9]*) ;; *) continue ;; esac
		while :; do case $vo_word in [0-9v]*) break ;; *) vo_word=${vo_word#?} ;; esac; done
		VERSION=$vo_word
		return 0
	done
}

# Into WG_IMPL: the implementation serving our links; with none, what a new link would use.
status_wireguard() {
	WG_IMPL=
	if [ -s "$STAGE/impl" ]; then
		read -r WG_IMPL <"$STAGE/impl"
	elif [ -d /sys/module/wireguard ]; then
		WG_IMPL=kernel
	elif command -v wireguard-go >/dev/null 2>&1; then
		WG_IMPL=wireguard-go
	fi
}

# The links the last deploy could not make right, and why: {"name":"reason",...}.
link_errors_json() {
	[ -r "$RUN_DIR/links.failed" ] || return 0
	le_sep=
	while read -r le_name le_reason; do
		valid_name "$le_name" || continue
		printf '%s"%s":' "$le_sep" "$le_name"
		json_str "$le_reason"
		le_sep=,
	done <"$RUN_DIR/links.failed"
}

report_status() {
	report_head
	printf ',"versions":{"wg":'
	json_str "$V_WG"
	printf ',"babeld":'
	json_str "$V_BABELD"
	printf ',"kernel":'
	json_str "$V_KERNEL"
	printf '},"configHashes":{%s},"links":[%s],"linkErrors":{' "$S_HASHES" "$S_LINKS"
	# Printed in place, not through $(...): a process each fewer.
	link_errors_json
	printf '},"babel":%s,"persistence":' "$S_BABEL"
	persistence_json
	pull_status_json
	printf '}\n'
}

status() {
	# The release as uname -r gives it, without a process: /proc/version is "Linux version RELEASE ...".
	read -r _ _ V_KERNEL _ 2>/dev/null </proc/version || V_KERNEL=$(uname -r)
	version_of wg --version
	V_WG=$VERSION
	read_facts
	link_state_json
	status_wireguard
	config_hashes_json
	babel_json
}
