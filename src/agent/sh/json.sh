# JSON writers for the report.

# Escape stdin for a JSON string body: \ " tab, other control characters; lines are joined
# with \n, and with trail=1 every line (also the last) ends in \n.
json_escape() {
	awk -v trail="${1:-0}" '
	BEGIN { for (i = 1; i < 32; i++) ctl = ctl sprintf("%c", i) }
	{
		out = ""
		n = length($0)
		for (i = 1; i <= n; i++) {
			c = substr($0, i, 1)
			if (c == "\\") out = out "\\\\"
			else if (c == "\"") out = out "\\\""
			else if (c == "\t") out = out "\\t"
			else if ((k = index(ctl, c)) > 0) out = out sprintf("\\u%04x", k)
			else out = out c
		}
		if (trail) printf "%s\\n", out
		else printf "%s%s", (NR > 1 ? "\\n" : ""), out
	}'
}

# Plain text (names, versions, the usual case) needs no escaping, which spares an awk.
json_str() {
	case $1 in
	*[!A-Za-z0-9\ _.,:/+=@-]*) printf '"'; printf '%s' "$1" | json_escape; printf '"' ;;
	*) printf '"%s"' "$1" ;;
	esac
}

json_file() { printf '"'; json_escape 1 <"$1"; printf '"'; }

# A JSON array of strings from a space-separated list of interface names.
json_names() {
	printf '['
	sep=
	for n in $1; do
		printf '%s' "$sep"
		json_str "$n"
		sep=,
	done
	printf ']'
}
