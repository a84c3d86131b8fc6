#!/bin/sh
# PID 1 of the scripts/kernel-vm.sh guest, run by busybox sh. Two stages:
#   boot  (in the initramfs): load the few modules needed to reach the host, mount the host's root
#         read-only over virtio-9p with a tmpfs overlay on top, give it fresh /proc /sys /dev /run
#         /tmp, and switch_root into it, running this same file again from the new /run;
#   run   (in the overlay): bring loopback up, hide the --without programs, mount the --tmpfs
#         directories, run the job the host
#         wrote into the control share, write its exit code there and reboot (QEMU runs with
#         -no-reboot, so a reboot ends the VM).
# The host side (kernel-vm.sh) passes its settings on the kernel command line; the kernel hands
# unknown name=value parameters to init as environment variables (rfvm_kver, rfvm_modules, …).
# See docs/kernel-vm.md.

BB=/bin/busybox
NEW=/newroot
VMDIR=/run/kernel-vm # in the new root: this script, busybox and the control share

say() { echo "kernel-vm init: $*" >&2; }

# Anything going wrong before the job ran: say so on the console (the host shows it) and end
# the VM; without an rc file the host reports a VM failure.
fail() {
	say "$*"
	$BB sync
	$BB reboot -f
	$BB sleep 60
}

stage_boot() {
	$BB mkdir -p /proc /sys /dev /lower /rw $NEW
	$BB mount -t proc proc /proc
	$BB mount -t sysfs sysfs /sys
	$BB mount -t devtmpfs devtmpfs /dev

	# kernel-vm.sh's KVM test: reaching this line is the proof; QEMU's isa-debug-exit port ends
	# the VM with exit code 99 (0x31 << 1 | 1).
	if [ "${rfvm_probe:-}" = 1 ]; then
		printf 1 | $BB dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
		fail "rfvm_probe: the isa-debug-exit port did not end the VM"
	fi

	# Dependency order was worked out when the initramfs was built (modprobe --show-depends).
	while read -r ko; do
		$BB insmod "/modules/$ko" || fail "insmod $ko failed"
	done </modules/order

	# The host's root, read-only (QEMU refuses writes too: readonly=on). cache=loose lets the
	# guest keep what it read (node_modules, dist) instead of asking the host again each time;
	# the host is not expected to change those files while a VM runs.
	$BB mount -t 9p -o "trans=virtio,version=9p2000.L,ro,msize=262144,cache=${rfvm_9p_cache:-loose}" \
		rfvm_root /lower || fail "cannot mount the host root (9p tag rfvm_root)"
	$BB mount -t tmpfs -o mode=0755 tmpfs /rw || fail "cannot mount the overlay's tmpfs"
	$BB mkdir -p /rw/upper /rw/work
	$BB mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay $NEW ||
		fail "cannot mount the overlay"

	# Fresh kernel filesystems and scratch space: nothing of the host's /proc, /sys, /dev, /run
	# or /tmp shows through.
	$BB mount -t proc proc $NEW/proc
	$BB mount -t sysfs sysfs $NEW/sys
	$BB mount -t devtmpfs devtmpfs $NEW/dev
	$BB mkdir -p $NEW/dev/pts $NEW/dev/shm
	$BB mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts $NEW/dev/pts
	$BB mount -t tmpfs -o mode=1777 tmpfs $NEW/dev/shm
	$BB ln -sf /proc/self/fd $NEW/dev/fd
	$BB ln -sf /proc/self/fd/0 $NEW/dev/stdin
	$BB ln -sf /proc/self/fd/1 $NEW/dev/stdout
	$BB ln -sf /proc/self/fd/2 $NEW/dev/stderr
	$BB mount -t tmpfs -o mode=0755 tmpfs $NEW/run
	$BB mkdir -p $NEW/run/lock
	$BB mount -t tmpfs -o mode=1777 tmpfs $NEW/tmp
	[ -d $NEW/sys/fs/cgroup ] && $BB mount -t cgroup2 cgroup2 $NEW/sys/fs/cgroup

	# The kernel's modules, from the host's cache dir (visible in the lower layer), where modprobe
	# looks for them. The host itself has no /lib/modules for this kernel.
	{ [ -n "${rfvm_kver:-}" ] && [ -n "${rfvm_modules:-}" ]; } || fail "rfvm_kver/rfvm_modules not given"
	$BB mkdir -p "$NEW/lib/modules/$rfvm_kver"
	$BB mount --bind "$NEW$rfvm_modules" "$NEW/lib/modules/$rfvm_kver" ||
		fail "cannot bind the modules at $rfvm_modules"
	# What systemd's kmod-static-nodes does: device nodes whose first open loads the module
	# (/dev/net/tun for wireguard-go, /dev/fuse, …).
	while read -r _mod node dev; do
		case $_mod in '#'* | '') continue ;; esac
		type=${dev%"${dev#?}"}
		majmin=${dev#?}
		$BB mkdir -p "$NEW/dev/${node%/*}"
		[ -e "$NEW/dev/$node" ] || $BB mknod "$NEW/dev/$node" "$type" "${majmin%:*}" "${majmin#*:}"
	done <"$NEW/lib/modules/$rfvm_kver/modules.devname"

	$BB mkdir -p $NEW$VMDIR/ctl
	$BB mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none rfvm_ctl $NEW$VMDIR/ctl ||
		fail "cannot mount the control share (9p tag rfvm_ctl)"
	$BB cp /bin/busybox /init $NEW$VMDIR/

	$BB umount /dev /sys /proc
	# (If switch_root fails, PID 1 exits, the kernel panics and panic=-1 ends the VM.)
	exec $BB switch_root $NEW $VMDIR/busybox sh $VMDIR/init run
}

stage_run() {
	BB=$VMDIR/busybox
	ctl=$VMDIR/ctl
	$BB hostname kernel-vm
	$BB ip link set lo up || fail "cannot bring lo up"

	# --without: delete the programs in the overlay (a whiteout: the host keeps them).
	while read -r prog; do
		[ -n "$prog" ] || continue
		$BB rm -f "$prog" || fail "cannot hide $prog"
		[ ! -e "$prog" ] || fail "$prog is still there"
	done <$ctl/without
	# --tmpfs: the root is an overlay, which cannot be the upper layer of another overlay.
	while read -r dir; do
		[ -n "$dir" ] || continue
		$BB mkdir -p "$dir" || fail "cannot make $dir"
		$BB mount -t tmpfs -o mode=0755 tmpfs "$dir" || fail "cannot mount a tmpfs on $dir"
	done <$ctl/tmpfs

	# The job: a sh script the host wrote (environment, cd, the command); its output goes to
	# files the host follows live. Every write is a 9p request answered after the host wrote
	# it, so nothing is lost when the VM ends right after.
	$BB env -i /bin/sh $ctl/job </dev/null >>$ctl/stdout 2>>$ctl/stderr
	rc=$?
	echo "$rc" >$ctl/rc.tmp && $BB mv $ctl/rc.tmp $ctl/rc
	$BB sync
	$BB reboot -f
	$BB sleep 60
}

case ${1:-boot} in
boot) stage_boot ;;
run) stage_run ;;
*) fail "unknown stage $1" ;;
esac
