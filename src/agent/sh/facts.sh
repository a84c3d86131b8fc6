# Facts: what the node has, read once per run whatever the number of links, and the one parser
# every decision reads them with (FACTS_AWK, prepended to each awk program that reads facts).
#
# $STAGE/wg: `wg show all dump` (its interface lines hold private keys: the stage directory is
# private, and no fact ever reaches a command line or the log); $STAGE/ip: `ip -d -o link show`
# and `ip -o addr show`, both of the interface side.

read_facts() {
	# An interface namespace that does not exist yet (check mode makes none) has nothing in it.
	if [ -n "$IF_NS" ] && [ ! -e "$NETNS_DIR/$IF_NS" ]; then
		: >"$STAGE/wg"
		: >"$STAGE/ip"
		return 0
	fi
	# Without wg's view no link can be told apart from an operator's own: decide nothing.
	wg_if show all dump >"$STAGE/wg" 2>"$STAGE/wg.err" ||
		die "cannot read WireGuard's state: wg show all dump failed: $(log_tail "$STAGE/wg.err")"
	# A here-document, not printf in a pipe: one process fewer.
	ip_if -d -o -batch - >"$STAGE/ip" 2>/dev/null <<-EOF
		link show
		addr show
	EOF
	return 0
}

# The time for awk: srand() seeds from the time of day and returns the previous seed (POSIX), so
# the second call returns the time the first one set.
EPOCH_AWK='
function epoch(   t) { srand(); t = srand(); return t }
'

# Awk functions over those files; the program sets PREFIX (the prefixes, space-separated) and GROUP
# (-v) to ask managed().
# - wg_line(): a line of `wg show all dump` (or `wg show all listen-port`): fills
#   WG_IF[name] (wg serves it), PRIV/LPORT/FWMARK[name] (interface lines) and per peer
#   NPEERS[name], PEER[name] (the first), EP/IPS/HS/RX/TX/KA[name, key] (KA: keepalive or "off");
# - link_line(): a line of `ip -d -o link`: sets L_NAME L_UP L_MTU L_GROUP L_MASTER L_KIND;
# - addr_line(): an inet6 line of `ip -o addr`: sets A_NAME A_ADDR;
# - is_wg(): the link just parsed is WireGuard: a kernel link, or a TUN a wireguard-go serves;
# - has_prefix(name, prefixes): the name starts with one of the space-separated prefixes;
# - managed(): it is ours: WireGuard, one of our prefixes and our ifgroup (as RAIT: an operator's
#   other links are never taken);
# - epoch(): seconds since 1970 (EPOCH_AWK), without a date process.
# shellcheck disable=SC2016 # awk source, not shell
FACTS_AWK=$EPOCH_AWK'
function wg_line() {
	if (NF == 5) { WG_IF[$1] = 1; PRIV[$1] = $2; LPORT[$1] = $4; FWMARK[$1] = $5; return 1 }
	if (NF == 2) { WG_IF[$1] = 1; LPORT[$1] = $2; return 1 }
	if (NF != 9) return 0
	if (!NPEERS[$1]++) PEER[$1] = $2
	EP[$1, $2] = $4; IPS[$1, $2] = $5; HS[$1, $2] = $6; RX[$1, $2] = $7; TX[$1, $2] = $8; KA[$1, $2] = $9
	return 1
}
function link_line(   seg, w, n, i) {
	if ($3 !~ /^</) return 0
	L_NAME = $2; sub(/:$/, "", L_NAME); sub(/@.*/, "", L_NAME)
	L_UP = ($3 ~ /[<,]UP[,>]/)
	L_MTU = L_GROUP = L_MASTER = L_KIND = ""
	# -o joins the lines of a link with "\": the head, the link layer, then (-d) the kind.
	split($0, seg, /\\/)
	n = split(seg[1], w, " ")
	for (i = 4; i < n; i++) {
		if (w[i] == "mtu") L_MTU = w[i + 1]
		else if (w[i] == "group") L_GROUP = (w[i + 1] == "default") ? 0 : w[i + 1]
		else if (w[i] == "master") L_MASTER = w[i + 1]
	}
	if (3 in seg) { split(seg[3], w, " "); L_KIND = w[1] }
	return 1
}
function addr_line() {
	if ($3 != "inet6") return 0
	A_NAME = $2; A_ADDR = $4
	return 1
}
function is_wg() { return L_KIND == "wireguard" || (L_KIND == "tun" && (L_NAME in WG_IF)) }
function has_prefix(name, prefixes,   p, n, i) {
	n = split(prefixes, p, " ")
	for (i = 1; i <= n; i++) if (index(name, p[i]) == 1) return 1
	return 0
}
function managed() { return is_wg() && has_prefix(L_NAME, PREFIX) && L_GROUP == GROUP }
'

