# Config files in config_dir: compared, and written atomically (a temp file beside the target,
# then a rename), keeping the previous version as <file>.prev.

# "crc size path" lines of cksum for the staged files and the files they would replace, taken
# once before any is written: a run that changes nothing compares them all with one process (a
# cmp each cost one each). Emptied by every write to a file in it; same_file then asks cmp.
SUMS=

# Into DIGESTS: checksum tool $1's lines for those of the files after it that exist: cksum ("crc
# size path", cheap, to compare), or sha256 ("hash path": what the control machine compares with;
# else OpenSSL's, else cksum's, which never equals a hash: drift). Each program runs straight in
# its $(...): this function called inside one would cost a process more.
digest_files() { # cksum|sha256 files...
	df_tool=$1
	shift
	for df_path; do
		shift
		[ -f "$df_path" ] && set -- "$@" "$df_path"
	done
	DIGESTS=
	[ $# -gt 0 ] || return 0
	if [ "$df_tool" = cksum ]; then
		DIGESTS=$(cksum "$@")
	elif command -v sha256sum >/dev/null 2>&1; then
		DIGESTS=$(sha256sum "$@")
	elif command -v openssl >/dev/null 2>&1; then
		DIGESTS=$(openssl dgst -sha256 -r "$@")
	else
		DIGESTS=$(cksum "$@" | awk '{ print "cksum:" $1 "-" $2, $3 }')
	fi
}

# Into DIGEST: the words before file $2's name in digest_files' lines $1 (sha256sum marks a file
# read in binary mode with "*", as openssl -r does every file); false when it has no line.
digest_of() { # lines file
	do_ifs=$IFS
	IFS=$NL
	# shellcheck disable=SC2086 # a line each
	set -- "$2" $1
	IFS=$do_ifs
	do_file=$1
	shift
	for do_line; do
		case $do_line in *" $do_file" | *" *$do_file")
			DIGEST=${do_line%" $do_file"}
			DIGEST=${DIGEST%" *$do_file"}
			DIGEST=${DIGEST% }
			return 0
			;;
		esac
	done
	DIGEST=
	return 1
}

# Files $1 and $2 have the same content.
same_file() {
	if digest_of "$SUMS" "$1"; then
		sf_sum=$DIGEST
		digest_of "$SUMS" "$2" && { [ "$DIGEST" = "$sf_sum" ]; return; }
	fi
	cmp -s "$1" "$2"
}

# The report's "files" entries so far; a config file being written (removed on exit, so no temp
# file outlives the agent); whether the last install_file changed its file.
FILES_JSON=
INSTALL_TMP=
FILE_CHANGED=0

add_file_json() { # name changed [diff-file]
	[ -n "$FILES_JSON" ] && FILES_JSON="$FILES_JSON,"
	FILES_JSON="$FILES_JSON{\"name\":\"$1\",\"changed\":$2"
	[ -n "${3:-}" ] && FILES_JSON="$FILES_JSON,\"diff\":$(json_file "$3")"
	FILES_JSON="$FILES_JSON}"
}

redact() { sed 's/^\([[:space:]]*PrivateKey[[:space:]]*=\).*/\1 "<redacted>"/' "$1"; }

# Unified diff old -> new with private keys redacted, into $STAGE/$name.diff.
file_diff() { # name target staged
	out=$STAGE/$1.diff
	if ! command -v diff >/dev/null 2>&1; then
		echo "diff unavailable" >"$out"
		return
	fi
	old=$STAGE/$1.old
	new=$STAGE/$1.new
	if [ -f "$2" ]; then redact "$2" >"$old"; else : >"$old"; fi
	redact "$3" >"$new"
	diff -u -L "a/$1" -L "b/$1" "$old" "$new" >"$out"
	[ $? -le 1 ] || echo "diff failed" >"$out"
}

# A staged file to its place, when it differs (the agent itself without a diff in check mode).
install_file() { # name target mode
	staged=$STAGE/$1
	FILE_CHANGED=0
	[ -f "$staged" ] || return 0
	if [ -f "$2" ] && same_file "$staged" "$2"; then
		add_file_json "$1" false
		return
	fi
	FILE_CHANGED=1
	if [ "$DRY" = 1 ]; then
		if [ "$1" = rait-fleet-agent ]; then
			add_file_json "$1" true
		else
			file_diff "$1" "$2" "$staged"
			add_file_json "$1" true "$STAGE/$1.diff"
		fi
		return
	fi
	dir=${2%/*}
	ensure_dir "${dir:-/}"
	write_atomic "$2" "$3" prev <"$staged"
	add_file_json "$1" true
}

# stdin to $1 (mode $2) through a temp file beside it and a rename: readers see the old file or
# the new one. With "prev" the old one stays as $1.prev.
write_atomic() { # target mode [prev]
	dir=${1%/*}
	dir=${dir:-/}
	tmp=$(mktemp "$dir/.${1##*/}.XXXXXX") || die "cannot create a temporary file in $dir"
	INSTALL_TMP=$tmp
	{ cat >"$tmp" && chmod "$2" "$tmp"; } || die "cannot write $tmp"
	[ "${3:-}" = prev ] && [ -f "$1" ] && cmd ln -f "$1" "$1.prev"
	cmd mv -f "$tmp" "$1"
	INSTALL_TMP=
	SUMS=
}

ensure_dir() {
	if [ ! -d "$1" ]; then
		cmd mkdir -p -m 0755 "$1"
	fi
	# A directory others can write to would let them swap our files.
	[ -n "$(find "$1" -prune -perm -0002 2>/dev/null)" ] && die "$1 is world-writable; refusing to write there"
	return 0
}

# Before the files are installed: their sums, and those of the plan and the config babeld runs.
sum_staged() {
	digest_files cksum "$PLAN_FILE" "$LAST_PLAN" "$STAGE/rait.conf" "$P_CONFIG_DIR/rait.conf" "$STAGE/rait-ip4.conf" \
		"$P_CONFIG_DIR/rait-ip4.conf" "$STAGE/rait-ip6.conf" "$P_CONFIG_DIR/rait-ip6.conf" "$STAGE/peers.conf" \
		"$P_CONFIG_DIR/peers.conf" "$STAGE/babeld.conf" "${P_BABELD_CONFIG:-$STAGE/-}" "$BABELD_RUNNING" \
		"$STAGE/rait-fleet-agent" "$P_CONFIG_DIR/rait-fleet-agent" "$STAGE/rait-fleet.service" "$UNIT_DIR/rait-fleet.service" \
		"$STAGE/rait-fleet-heal.service" "$UNIT_DIR/rait-fleet-heal.service" "$STAGE/rait-fleet-heal.timer" \
		"$UNIT_DIR/rait-fleet-heal.timer" "$STAGE/rait-fleet-pull.service" "$UNIT_DIR/rait-fleet-pull.service" \
		"$STAGE/rait-fleet-pull.timer" "$UNIT_DIR/rait-fleet-pull.timer" "$STAGE/pull" "$P_CONFIG_DIR/pull"
	SUMS=$DIGESTS
}

# A file of ours the plan no longer has goes (with its .prev): a second transport's rait.conf left
# behind would still be run by RAIT.
remove_file() { # name target
	[ -f "$2" ] || return 0
	if [ "$DRY" = 1 ]; then
		file_diff "$1" "$2" /dev/null
		add_file_json "$1" true "$STAGE/$1.diff"
		return
	fi
	cmd rm -f "$2" "$2.prev"
	SUMS=
	add_file_json "$1" true
}

sync_files() {
	install_file rait.conf "$P_CONFIG_DIR/rait.conf" 0600
	# One rait.conf per transport: the node's second family has its own.
	for sf_name in rait-ip4.conf rait-ip6.conf; do
		if [ -f "$STAGE/$sf_name" ]; then
			install_file "$sf_name" "$P_CONFIG_DIR/$sf_name" 0600
		else
			case $MODE in deploy | check | pull) remove_file "$sf_name" "$P_CONFIG_DIR/$sf_name" ;; esac
		fi
	done
	install_file peers.conf "$P_CONFIG_DIR/peers.conf" 0644
	[ "$P_BABELD" = 1 ] && install_file babeld.conf "$P_BABELD_CONFIG" 0644
	return 0
}
