# What this node must have: programs, and a WireGuard implementation.

# kernel | wireguard-go
WG_IMPL=
OS_RELEASE=${RF_OS_RELEASE:-/etc/os-release}

# "ID ID_LIKE..." from os-release, read without executing it.
distro() {
	[ -r "$OS_RELEASE" ] || return 0
	sed -n 's/^ID=//p; s/^ID_LIKE=//p' "$OS_RELEASE" | tr -d "\"'" | tr '\n' ' ' | sed 's/ *$//'
}

# The package providing program $1 on this distribution.
package_of() {
	for id in $(distro); do
		case $id:$1 in
		debian:ip | ubuntu:ip | alpine:ip | arch:ip) echo iproute2; return ;;
		fedora:ip | rhel:ip | centos:ip) echo iproute; return ;;
		debian:* | ubuntu:* | fedora:* | rhel:* | centos:* | alpine:* | arch:*)
			case $1 in
			wg) echo wireguard-tools ;;
			*) echo "$1" ;;
			esac
			return ;;
		esac
	done
	echo unknown
}

need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	pkg=$(package_of "$1")
	[ "$pkg" = unknown ] && die "missing program $1 (install it; no package name known for this distribution)"
	die "missing program $1: install package $pkg ($(distro))"
}

# Before any change: the node has a WireGuard. The module loaded means kernel; otherwise, with
# wireguard-go there, which one is left to the first link made (wg_impl): the probe makes and
# deletes a link, which a run that makes none can do without.
check_wireguard() {
	if [ -d /sys/module/wireguard ]; then
		WG_IMPL=kernel
	elif ! command -v wireguard-go >/dev/null 2>&1; then
		wg_impl
	fi
}

# Into WG_IMPL: kernel WireGuard if a throwaway link can be made (the module may load on demand),
# else wireguard-go.
wg_impl() {
	[ -n "$WG_IMPL" ] && return 0
	probe=rfprobe$$
	probe=$(printf '%.15s' "$probe")
	if ip link add "$probe" type wireguard 2>/dev/null; then
		ip link del "$probe" 2>/dev/null
		WG_IMPL=kernel
	elif command -v wireguard-go >/dev/null 2>&1; then
		WG_IMPL=wireguard-go
	else
		die "no WireGuard: the kernel has no wireguard module and wireguard-go is missing: install package $(package_of wireguard-go)"
	fi
}

check_requirements() {
	need ip
	need wg
	case $MODE in
	deploy | check | apply | pull)
		check_wireguard
		[ "$P_BABELD" = 1 ] && need babeld
		;;
	esac
	return 0
}
