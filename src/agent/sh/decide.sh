# Decisions: the facts (facts.sh) against the plan, in one awk whatever the number of links.
# Pure: files in, lines out; the unit tests run it on facts recorded from real nodes.

# Seconds a handshake counts as fresh: WireGuard re-handshakes every 2 minutes while packets flow,
# and babel's hellos keep them flowing (the status command uses the same bound).
HANDSHAKE_FRESH=180
#
# Sets PLAN_DIFFS to, per planned link: "link name port pubkey host eport linklocal keepalive family current-endpoint words..."
# where the words name what differs (wg peers link addr up master), "missing" when there is no
# such link, "foreign" when a link of that name exists that is not WireGuard (never ours), and
# "resolve" when the endpoint is a host name to look up again: it changed since the last applied
# plan, or the link has no endpoint or no fresh handshake (a dynamic name may point elsewhere now);
# a link that works on the address its name gave is left alone, so DNS is asked only when it could
# help. A link with no word is right and printed as "kept name" only (the shell has nothing to do for
# it). Then "stale name" for every managed link not planned, and last "new N": how many links are
# missing. Reads $STAGE/wg, $STAGE/ip, the planned private key in $STAGE/private.key, the link lines
# of the plan read_plan checked ($PLAN_FILE; none when P_NAMES is empty: down plans no link) and
# the last applied plan in $1 (may be missing).
plan_diffs() { # last-plan
	if [ -n "$P_NAMES" ]; then pd_plan=$PLAN_FILE; else pd_plan=/dev/null; fi
	# Into PLAN_DIFFS: awk runs straight in the $(...) (the caller's $(plan_diffs) cost a process more).
	PLAN_DIFFS=$(awk -v PREFIX="$P_PREFIX" -v GROUP="$P_GROUP" -v mtu="$P_MTU" -v fwmark="$P_FWMARK" -v family="$P_FAMILY" \
		-v master="$LINK_MASTER" -v keyfile="$STAGE/private.key" \
		-v fresh="$HANDSHAKE_FRESH" -v wgfile="$STAGE/wg" -v ipfile="$STAGE/ip" -v lastfile="$1" "$FACTS_AWK"'
	# wg prints a mark in hex, "off" for none; the plan has it in decimal. Read digit by digit:
	# every awk keeps a 32-bit mark exact, where printf "%x" of one above 2^31 is not portable.
	function mark(s,   n, i) {
		if (s == "off") return 0
		s = tolower(s)
		n = 0
		for (i = 3; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
		return n
	}
	BEGIN {
		now = epoch()
		while ((getline line <lastfile) > 0) {
			split(line, w, " ")
			if (w[1] == "link") lasthost[w[2]] = w[5]
		}
		close(lastfile)
		key = ""
		getline key <keyfile
		close(keyfile)
	}
	FILENAME == wgfile { wg_line(); next }
	FILENAME == ipfile {
		if (link_line()) {
			exists[L_NAME] = 1; up[L_NAME] = L_UP; lmtu[L_NAME] = L_MTU; lgroup[L_NAME] = L_GROUP; lmaster[L_NAME] = L_MASTER
			if (managed()) ours[L_NAME] = 1
			if (!is_wg()) foreign[L_NAME] = 1
		} else if (addr_line()) addr[A_NAME, A_ADDR] = 1
		next
	}
	# A link line of the plan: link name port pubkey host eport linklocal keepalive [family]
	# (a version 2 plan gives the family once, for every link).
	$1 == "link" {
		name = $2; port = $3; pub = $4; host = $5; eport = $6; ll = $7
		fam = (NF >= 9) ? $9 : family
		ka = ($8 == 0) ? "off" : $8
		planned[name] = 1
		split("", d)
		cur = ((name, pub) in EP) ? EP[name, pub] : "(none)"
		if (!(name in exists)) { d["missing"] = 1; missing++ }
		else if (name in foreign) d["foreign"] = 1
		else {
			if (PRIV[name] != key || LPORT[name] != port || mark(FWMARK[name]) != fwmark + 0) d["wg"] = 1
			if (NPEERS[name] != 1 || !((name, pub) in EP)) d["peers"] = 1
			want = (host ~ /:/) ? "[" host "]:" eport : host ":" eport
			if (host == "-") {
				# Behind NAT: whatever address the handshakes of the peer came from is right.
			} else if (host ~ /^[0-9.]+$/ || host ~ /:/) {
				if (cur != want) d["wg"] = 1
			} else {
				hs = HS[name, pub] + 0
				if (lasthost[name] != host || cur == "(none)" || hs == 0 || now - hs >= fresh) d["resolve"] = 1
			}
			if (IPS[name, pub] != "0.0.0.0/0,::/0" && IPS[name, pub] != "::/0,0.0.0.0/0") d["wg"] = 1
			if (KA[name, pub] != ka) d["wg"] = 1
			if (lmtu[name] != mtu || lgroup[name] != GROUP) d["link"] = 1
			if (!up[name]) d["up"] = 1
			if (master != "" && lmaster[name] != master) d["master"] = 1
			if (!((name, ll) in addr)) d["addr"] = 1
		}
		words = ""
		for (k in d) words = words " " k
		if (words == "") print "kept", name
		else print "link", name, port, pub, host, eport, ll, $8, fam, cur words
	}
	END {
		for (name in ours) if (!(name in planned)) print "stale", name
		print "new", missing + 0
	}' "$STAGE/wg" "$STAGE/ip" "$pd_plan")
}
