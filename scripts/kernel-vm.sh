#!/usr/bin/env bash
# Run a command inside a throwaway QEMU VM that boots Debian's stock kernel (kernel WireGuard and
# VRF, which this machine's kernel lacks) on this machine's own root filesystem: read-only over
# virtio-9p, a tmpfs overlay on top, fresh /proc /sys /dev /run /tmp, loopback only, no NIC.
# node, the built project, sshd, babeld and the lab run inside unchanged; nothing inside can write
# to the host except the run's own control directory. See docs/kernel-vm.md.
#
#   scripts/kernel-vm.sh [--without PROGRAM]... [--tmpfs DIR]... [--timeout SECONDS] [--memory SIZE]
#                        [--cpus N] [--accel auto|kvm|tcg] [--console] [--] CMD [ARG]...
#
# Exit code: CMD's; 124 when --timeout ended the VM; 125 when the VM itself failed (no exit code
# came back) or on a usage error; 130/143 when interrupted.
#
# Environment: RF_VM_CACHE (default /var/cache/rait-fleet-vm), RF_VM_ACCEL (as --accel); for
# debugging RF_VM_KARGS (kernel arguments instead of "quiet loglevel=4", with --console) and
# RF_VM_9P_CACHE (the root's 9p cache mode, default loose).
set -euo pipefail

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
INIT_SCRIPT=$SELF_DIR/kernel-vm-init.sh
CACHE=${RF_VM_CACHE:-/var/cache/rait-fleet-vm}
# Modules the initramfs loads to reach the host's root; their dependencies come along.
BOOT_MODULES=(virtio_pci 9pnet_virtio 9p overlay virtio_rng)

TIMEOUT=1800
MEMORY=4G
CPUS=$(nproc)
ACCEL=${RF_VM_ACCEL:-auto}
CONSOLE=0
WITHOUT=()
TMPFS=()
CMD=()

RUN_DIR=""   # this run's temp dir: ctl/ (shared with the guest), console.log, qemu.log
VM_PID=""    # the `timeout … qemu` process
TAIL_PIDS=() # the tails streaming the guest's stdout/stderr

say() { echo "kernel-vm: $*" >&2; }
die() {
	say "$*"
	exit 125
}

usage() {
	sed -n '8,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 125
}

# option_value OPTION REGEX WHAT [VALUE]: prints VALUE if it matches REGEX, else dies.
option_value() {
	(($# == 4)) && [[ $4 =~ $2 ]] && {
		printf '%s' "$4"
		return
	}
	die "$1: expects $3"
}

parse_args() {
	while (($#)); do
		case $1 in
		--without)
			WITHOUT+=("$(option_value "$1" '^(/[A-Za-z0-9._+/-]+|[A-Za-z0-9._+-]+)$' "a program name or absolute path" "${@:2:1}")")
			shift 2
			;;
		--tmpfs)
			TMPFS+=("$(option_value "$1" '^[A-Za-z0-9._+/-]+$' "a directory" "${@:2:1}")")
			shift 2
			;;
		--timeout)
			TIMEOUT=$(option_value "$1" '^[1-9][0-9]*$' "a number of seconds" "${@:2:1}")
			shift 2
			;;
		--memory)
			MEMORY=$(option_value "$1" '^[1-9][0-9]*[MG]$' "a size such as 4G or 3072M" "${@:2:1}")
			shift 2
			;;
		--cpus)
			CPUS=$(option_value "$1" '^[1-9][0-9]*$' "a number" "${@:2:1}")
			shift 2
			;;
		--accel)
			ACCEL=$(option_value "$1" '^(auto|kvm|tcg)$' "auto, kvm or tcg" "${@:2:1}")
			shift 2
			;;
		--console)
			CONSOLE=1
			shift
			;;
		--)
			shift
			break
			;;
		-h | --help) usage ;;
		-*) die "unknown option $1 (a command that starts with - goes after --)" ;;
		*) break ;;
		esac
	done
	(($#)) || usage
	CMD=("$@")
}

# ---------------------------------------------------------------- host packages

# qemu, busybox-static for the initramfs, kmod for depmod here and modprobe in the guest, cpio to
# pack the initramfs, and the apt-get download/dpkg-deb the kernel comes with. Same pattern as
# scripts/apt-install.sh: nothing to do, no apt-get.
ensure_host_packages() {
	((EUID == 0)) || die "run as root (QEMU's 9p export of / and the cache in $CACHE need it)"
	local missing=() p
	for p in qemu-system-x86 busybox-static kmod cpio; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if ((${#missing[@]})); then
		say "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

# ---------------------------------------------------------------- the kernel

# Debian's kernel, extracted from its .deb into the cache rather than installed: installing
# linux-image-* pulls in initramfs-tools and runs its hooks (an initrd for this host, grub if
# present), changes the host's /boot and /lib/modules and leaves a kernel package that apt then
# upgrades and purges. The VM needs none of that: the kernel image and modules.dep are enough.
KERNEL_DIR=""   # $CACHE/kernel/<package>_<version>: vmlinuz, vmlinux, lib/modules/<kver>, kver
KVER=""         # 6.1.0-56-amd64
KERNEL_IMAGE="" # what QEMU boots

# The package linux-image-amd64 points at now ("linux-image-6.1.0-56-amd64 6.1.192-2"), empty
# when apt knows no such package (no package lists yet).
candidate_kernel() {
	local pkg ver
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
	[[ -n $pkg ]] || return 0
	ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '$1 == "Candidate:" && $2 != "(none)" { print $2; exit }')
	[[ -n $ver ]] && echo "$pkg $ver"
	return 0
}

ensure_kernel() {
	local want pkg ver record=$CACHE/kernel/current
	# Asking apt takes ~1 s; its answer changes only when the package lists do.
	if [[ -f $record && ! /var/lib/apt/lists -nt $record && -f $CACHE/kernel/$(cat "$record")/kver ]]; then
		KERNEL_DIR=$CACHE/kernel/$(cat "$record")
	else
		want=$(candidate_kernel)
		if [[ -z $want ]]; then
			# Offline or no package lists: the newest kernel already extracted will do.
			KERNEL_DIR=$(find "$CACHE/kernel" -mindepth 1 -maxdepth 1 -type d -name 'linux-image-*' 2>/dev/null | sort -V | tail -n 1)
			if [[ -z $KERNEL_DIR ]]; then
				apt-get update -qq
				want=$(candidate_kernel)
				[[ -n $want ]] || die "apt knows no linux-image-amd64"
			fi
		fi
		if [[ -n $want ]]; then
			read -r pkg ver <<<"$want"
			KERNEL_DIR=$CACHE/kernel/${pkg}_${ver//:/%}
			[[ -f $KERNEL_DIR/kver ]] || extract_kernel "$pkg" "$ver"
			basename "$KERNEL_DIR" >"$record"
		fi
	fi
	KVER=$(cat "$KERNEL_DIR/kver")
	KERNEL_IMAGE=$KERNEL_DIR/vmlinuz
	[[ -f $KERNEL_DIR/vmlinux ]] && KERNEL_IMAGE=$KERNEL_DIR/vmlinux
	return 0
}

extract_kernel() {
	local pkg=$1 ver=$2 tmp deb
	say "fetching $pkg $ver (once; cached in $CACHE/kernel)"
	mkdir -p "$CACHE/kernel"
	tmp=$(mktemp -d "$CACHE/kernel/.tmp.XXXXXX")
	# apt-get download drops privileges to _apt, which must be able to write there.
	id _apt >/dev/null 2>&1 && chown _apt "$tmp"
	(cd "$tmp" && apt-get download -qq "$pkg=$ver") || { rm -rf "$tmp"; die "apt-get download $pkg=$ver failed"; }
	deb=$(find "$tmp" -maxdepth 1 -name '*.deb' | head -n 1)
	mkdir "$tmp/x"
	dpkg-deb -x "$deb" "$tmp/x"
	KVER=${pkg#linux-image-}
	[[ -f $tmp/x/boot/vmlinuz-$KVER && -d $tmp/x/lib/modules/$KVER ]] || {
		rm -rf "$tmp"
		die "$pkg has no boot/vmlinuz-$KVER or lib/modules/$KVER"
	}
	mkdir -p "$tmp/k/lib/modules"
	mv "$tmp/x/boot/vmlinuz-$KVER" "$tmp/k/vmlinuz"
	mv "$tmp/x/boot/config-$KVER" "$tmp/k/config"
	mv "$tmp/x/lib/modules/$KVER" "$tmp/k/lib/modules/"
	extract_vmlinux "$tmp/k"
	# What the package's postinst would have run: modprobe in the guest needs modules.dep.
	depmod -b "$tmp/k" "$KVER"
	echo "$KVER" >"$tmp/k/kver"
	chmod 755 "$tmp/k"
	rm -rf "$KERNEL_DIR"
	mv "$tmp/k" "$KERNEL_DIR"
	rm -rf "$tmp"
}

# The uncompressed kernel beside the bzImage. QEMU boots such an ELF through its PVH entry point
# (Debian builds with CONFIG_PVH=y), which skips the bzImage's own xz decompression: about 2 s of
# the boot under TCG. Without it (no PVH, no xz, no ELF came out) vmlinuz boots as usual.
extract_vmlinux() {
	local k=$1 off
	grep -qx 'CONFIG_PVH=y' "$k/config" && command -v xz >/dev/null || return 0
	off=$(LC_ALL=C grep -m 1 -abo $'\xfd7zXZ' "$k/vmlinuz" | cut -d: -f1)
	off=${off%%$'\n'*}
	[[ -n $off ]] || return 0
	# xz complains about the bytes after the stream; what it wrote before is the kernel.
	tail -c +$((off + 1)) "$k/vmlinuz" | xz -dcq >"$k/vmlinux" 2>/dev/null || true
	[[ $(head -c 4 "$k/vmlinux") == $'\x7fELF' ]] || rm -f "$k/vmlinux"
}

# ---------------------------------------------------------------- the initramfs

INITRAMFS=""

# busybox, the init script and the boot modules; keyed by the kernel and a hash of the init
# script and the module list, so editing either builds a new one.
ensure_initramfs() {
	local key tmp m ko
	key=$( (
		cat "$INIT_SCRIPT"
		echo "${BOOT_MODULES[*]}"
	) | sha256sum | cut -c1-16)
	INITRAMFS=$CACHE/initramfs/$(basename "$KERNEL_DIR")-$key.cpio
	[[ -f $INITRAMFS ]] && return
	mkdir -p "$CACHE/initramfs"
	tmp=$(mktemp -d "$CACHE/initramfs/.tmp.XXXXXX")
	mkdir -p "$tmp/root/bin" "$tmp/root/dev" "$tmp/root/modules"
	cp /bin/busybox "$tmp/root/bin/busybox"
	ln -s busybox "$tmp/root/bin/sh"
	install -m 755 "$INIT_SCRIPT" "$tmp/root/init"
	# The kernel opens /dev/console before /init runs: without the node, init has no stdio.
	mknod "$tmp/root/dev/console" c 5 1
	for m in "${BOOT_MODULES[@]}"; do
		modprobe -d "$KERNEL_DIR" -S "$KVER" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++' | while read -r ko; do
		cp "$ko" "$tmp/root/modules/"
		basename "$ko" >>"$tmp/root/modules/order"
	done
	(cd "$tmp/root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$tmp/initramfs.cpio"
	mv "$tmp/initramfs.cpio" "$INITRAMFS"
	rm -rf "$tmp"
}

# Kernel and initramfs are built under a lock, so parallel runs neither race nor half-read them.
prepare_cache() {
	mkdir -p "$CACHE"
	local lock
	exec {lock}>"$CACHE/.lock"
	flock -w 900 "$lock" || die "$CACHE/.lock: still held after 15 min"
	ensure_kernel
	ensure_initramfs
	exec {lock}>&-
}

# ---------------------------------------------------------------- KVM or TCG

# /dev/kvm may exist and open while nested virtualisation cannot run a real guest, so the test is
# a real boot: our kernel and initramfs with rfvm_probe=1, whose init writes 0x31 to QEMU's
# isa-debug-exit port right away; QEMU then exits with (0x31 << 1) | 1 = 99. Anything else
# (an error, a hang until the time limit, a crash) means TCG. The answer is kept per host boot.
kvm_works() {
	[[ -c /dev/kvm && -r /dev/kvm && -w /dev/kvm ]] || return 1
	local mark rc=0
	mark=$CACHE/kvm-probe.$(cat /proc/sys/kernel/random/boot_id)
	if [[ ! -f $mark ]]; then
		# (In a subshell, so bash's "Aborted" notice for a QEMU that asserts goes nowhere too.)
		(timeout -k 5 15 qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot \
			-accel kvm -cpu host -m 256M -serial none \
			-device isa-debug-exit,iobase=0xf4,iosize=0x01 \
			-kernel "$KERNEL_IMAGE" -initrd "$INITRAMFS" \
			-append "console=ttyS0 panic=-1 quiet rfvm_probe=1" </dev/null >/dev/null 2>&1
			exit $?) 2>/dev/null || rc=$?
		rm -f "$CACHE"/kvm-probe.*
		echo "$rc" >"$mark"
	fi
	[[ $(cat "$mark") == 99 ]]
}

choose_accel() {
	case $ACCEL in
	kvm) kvm_works || die "--accel kvm: KVM cannot run a guest here" ;;
	tcg) ;;
	auto) if kvm_works; then ACCEL=kvm; else ACCEL=tcg; fi ;;
	esac
}

# ---------------------------------------------------------------- the job

# One sh word, whatever $1 holds: single quotes, each ' written as '\''.
sh_quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# The variables the command sees: a clean environment, not this shell's.
job_env() {
	local name
	printf 'export PATH=%s\n' "$(sh_quote "$PATH")"
	echo "export HOME=/root"
	for name in $(compgen -e); do
		case $name in
		RF_* | RAIT_FLEET_* | CI | CI_* | NODE_OPTIONS | TERM | LANG | LC_* | NO_COLOR | FORCE_COLOR)
			printf 'export %s=%s\n' "$name" "$(sh_quote "${!name}")"
			;;
		esac
	done
}

# Paths the guest mounts afresh: a directory under them does not exist in the VM.
check_cwd() {
	case $PWD/ in
	/tmp/* | /run/* | /proc/* | /sys/* | /dev/*)
		die "the current directory $PWD is not visible in the VM (it gets its own /tmp, /run, /proc, /sys, /dev)"
		;;
	esac
}

prepare_run() {
	RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kernel-vm.XXXXXX")
	local ctl=$RUN_DIR/ctl p a found
	mkdir "$ctl"
	{
		echo "# written by scripts/kernel-vm.sh"
		job_env
		printf 'cd %s || exit 125\n' "$(sh_quote "$PWD")"
		printf 'exec'
		for a in "${CMD[@]}"; do printf ' %s' "$(sh_quote "$a")"; done
		echo
	} >"$ctl/job"
	# --without names are looked up here, on the same PATH the command gets: every copy found
	# is hidden in the guest, so `command -v` there finds none.
	: >"$ctl/without"
	for p in "${WITHOUT[@]}"; do
		if [[ $p == /* ]]; then
			found=$p
		else
			found=$(type -aP "$p" || true)
		fi
		[[ -n $found ]] || die "--without $p: no such program here"
		echo "$found" >>"$ctl/without"
	done
	# --tmpfs: directories (relative to the current one) that get an empty tmpfs in the guest,
	# e.g. where a program mounts overlays of its own: an overlay cannot be another's upper layer.
	: >"$ctl/tmpfs"
	for p in "${TMPFS[@]}"; do
		[[ $p == /* ]] || p=$PWD/$p
		echo "$p" >>"$ctl/tmpfs"
	done
	: >"$ctl/stdout"
	: >"$ctl/stderr"
}

# ---------------------------------------------------------------- the VM

qemu_args() {
	local cpu=max accel=tcg,thread=multi
	[[ $ACCEL == kvm ]] && cpu=host accel=kvm
	local modules=$KERNEL_DIR/lib/modules/$KVER
	[[ $modules =~ ^[A-Za-z0-9._/%+-]+$ ]] || die "the cache path $modules has characters the kernel command line cannot carry"
	QEMU=(qemu-system-x86_64
		-nodefaults -no-user-config -display none -no-reboot
		-machine q35 -accel "$accel" -cpu "$cpu" -smp "$CPUS" -m "$MEMORY"
		-kernel "$KERNEL_IMAGE" -initrd "$INITRAMFS"
		-append "console=ttyS0 panic=-1 ${RF_VM_KARGS:-quiet loglevel=4} rfvm_kver=$KVER rfvm_modules=$modules${RF_VM_9P_CACHE:+ rfvm_9p_cache=$RF_VM_9P_CACHE}"
		-serial "file:$RUN_DIR/console.log"
		# No network device at all: the guest has loopback and whatever it makes itself.
		-nic none
		# The host's root, read-only at QEMU (writes fail with EROFS whatever the guest mounts).
		# multidevs=remap keeps inode numbers unique across the host's mounts under /.
		-virtfs "local,path=/,mount_tag=rfvm_root,security_model=none,readonly=on,multidevs=remap"
		# The one writable share: this run's control dir (job, stdout, stderr, rc).
		-virtfs "local,path=$RUN_DIR/ctl,mount_tag=rfvm_ctl,security_model=none,multidevs=remap"
		-device virtio-rng-pci)
}

boot_vm() {
	qemu_args
	# timeout ends QEMU after --timeout; it runs in its own process group, so a Ctrl-C reaches
	# only this script, whose trap then ends the VM.
	timeout -k 10 "$TIMEOUT" "${QEMU[@]}" </dev/null >"$RUN_DIR/qemu.log" 2>&1 &
	VM_PID=$!
	# Follow the output files by descriptor from their first byte; each tail ends a moment after
	# the VM has.
	tail -q -c +1 -s 0.2 -f --pid="$VM_PID" "$RUN_DIR/ctl/stdout" &
	TAIL_PIDS+=($!)
	tail -q -c +1 -s 0.2 -f --pid="$VM_PID" "$RUN_DIR/ctl/stderr" >&2 &
	TAIL_PIDS+=($!)
	if ((CONSOLE)); then
		: >>"$RUN_DIR/console.log"
		tail -q -c +1 -s 0.2 -f --pid="$VM_PID" "$RUN_DIR/console.log" >&2 &
		TAIL_PIDS+=($!)
	fi
}

# Waits for the VM and its output, then exits with the command's code.
finish() {
	local vm_rc=0 rc_file=$RUN_DIR/ctl/rc rc
	wait "$VM_PID" || vm_rc=$?
	VM_PID=""
	wait "${TAIL_PIDS[@]}" 2>/dev/null || true
	TAIL_PIDS=()
	if ((vm_rc == 124)); then
		say "timed out after $TIMEOUT s; the VM was killed"
		exit 124
	fi
	# The guest could have put anything there: only a plain file holding a number counts.
	if [[ -f $rc_file && ! -L $rc_file ]] && rc=$(head -c 8 "$rc_file") && [[ $rc =~ ^[0-9]{1,3}$ ]] && ((rc <= 255)); then
		exit "$rc"
	fi
	say "the VM ended without the command's exit code (QEMU exit $vm_rc); last console lines:"
	tail -n 20 "$RUN_DIR/console.log" >&2 || true
	tail -n 5 "$RUN_DIR/qemu.log" >&2 || true
	exit 125
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [[ -n $VM_PID ]]; then
		kill -TERM "$VM_PID" 2>/dev/null || true
		wait "$VM_PID" 2>/dev/null || true
	fi
	local p
	for p in "${TAIL_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	[[ -n $RUN_DIR ]] && rm -rf "$RUN_DIR"
	return 0
}

main() {
	parse_args "$@"
	check_cwd
	ensure_host_packages
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
	prepare_cache
	choose_accel
	prepare_run
	boot_vm
	finish
}

main "$@"
