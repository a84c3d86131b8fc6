# The status report: every managed link as WireGuard and ip see it, babeld's neighbours and
# routes, versions, and a hash of each deployed file. Reads only; private keys never leave.

V_WG=
V_BABELD=
V_KERNEL=
S_HASHES=
S_LINKS=
S_BABEL='{"running":false,"configHash":null,"neighbours":[],"routes":0}'
S_LINK_ERRORS=

hash_of() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum <"$1" | awk '{ print $1 }'
	elif command -v openssl >/dev/null 2>&1; then
		openssl dgst -sha256 <"$1" | awk '{ print $NF }'
	else
		cksum <"$1" | awk '{ print "cksum:" $1 "-" $2 }'
	fi
}

config_hashes_json() {
	sep=
	for pair in "rait.conf=$P_CONFIG_DIR/rait.conf" "peers.conf=$P_CONFIG_DIR/peers.conf" \
		"babeld.conf=${P_BABELD_CONFIG:-$P_CONFIG_DIR/babeld.conf}"; do
		f=${pair#*=}
		[ -f "$f" ] || continue
		printf '%s"%s":"%s"' "$sep" "${pair%%=*}" "$(hash_of "$f")"
		sep=,
	done
}

# One LinkState per managed link, in ip's order, from the facts (facts.sh); the WireGuard
# implementation serving them goes to $STAGE/impl. Only peer facts are printed, never the keys
# of the interface lines.
link_state_json() {
	awk -v now="$(date +%s)" -v PREFIX="$P_PREFIX" -v GROUP="$P_GROUP" -v wgfile="$STAGE/wg" \
		-v implfile="$STAGE/impl" "$FACTS_AWK"'
	function esc(s) { gsub(/[^A-Za-z0-9+\/=_.:\[\]-]/, "", s); return s }
	function uint(s) { return (s ~ /^[0-9]+$/) ? s : 0 }
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
	END { if (impl != "") print impl >implfile }' "$STAGE/wg" "$STAGE/ip"
}

# babeld's dump: neighbours and installed routes; and the hash of the config our babeld runs
# (null when it is not ours or not running), which the control machine compares with the plan's.
babel_json() {
	running=false
	dump=
	config=null
	# What routes the mesh is whatever babeld answers on the socket.
	if [ "$P_BABELD" = 1 ] && babeld_answers; then
		running=true
		dump=$(babel_ctl dump 2>/dev/null)
		[ "$P_BABELD_MANAGE" = agent ] && [ -f "$BABELD_RUNNING" ] && babeld_pid >/dev/null && config="\"$(hash_of "$BABELD_RUNNING")\""
	fi
	printf '{"running":%s,"configHash":%s,"neighbours":[' "$running" "$config"
	printf '%s\n' "$dump" | awk '
	function esc(s) { gsub(/[^A-Za-z0-9_.:\/-]/, "", s); return s }
	$1 == "add" && $2 == "interface" { known[$3] = 1 }
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
		for (i = 1; i <= n; i++) if (nif[i] in known) { printf "%s%s", sep, line[i]; sep = "," }
	}'
	routes=$(printf '%s\n' "$dump" | grep -c '^add route .* installed yes')
	printf '],"routes":%s}' "$routes"
}

version_of() { # program args...
	command -v "$1" >/dev/null 2>&1 || return 0
	"$@" 2>&1 | head -n 1 | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /[0-9]+\.[0-9]/) { sub(/^[^0-9v]*/, "", $i); print $i; exit } }'
}

# The implementation serving our links; with none, what a new link would use.
status_wireguard() {
	if [ -s "$STAGE/impl" ]; then
		read -r impl <"$STAGE/impl"
		echo "$impl"
	elif [ -d /sys/module/wireguard ]; then
		echo kernel
	elif command -v wireguard-go >/dev/null 2>&1; then
		echo wireguard-go
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
	printf '},"configHashes":{%s},"links":[%s],"linkErrors":{%s},"babel":%s,"persistence":%s}\n' "$S_HASHES" "$S_LINKS" \
		"$S_LINK_ERRORS" "$S_BABEL" "$(persistence_json)"
}

status() {
	V_KERNEL=$(uname -r)
	V_WG=$(version_of wg --version)
	V_BABELD=$(version_of babeld -V)
	read_facts
	S_LINKS=$(link_state_json)
	WG_IMPL=$(status_wireguard)
	S_HASHES=$(config_hashes_json)
	S_BABEL=$(babel_json)
	S_LINK_ERRORS=$(link_errors_json)
}
