#!/usr/bin/env bash
# Install the peers the benchmark compares against (Debian's Ansible and Fabric), only when missing.
# Kept out of scripts/setup.sh so CI stays lean. Run as root.
set -euo pipefail
packages=(ansible-core python3-fabric)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Every wireguard-go process holds an inotify instance (it watches its UAPI socket); a 16-node lab
# runs 240 of them, above the usual per-user default of 128 ("Failed to listen on uapi socket: too
# many open files"). Raise the limit for the running system only.
want=1024
have=$(cat /proc/sys/fs/inotify/max_user_instances)
if ((have < want)); then
  echo "bench: raising fs.inotify.max_user_instances from $have to $want (wireguard-go needs one per tunnel)" >&2
  echo "$want" >/proc/sys/fs/inotify/max_user_instances
fi
