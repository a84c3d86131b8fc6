#!/usr/bin/env bash
# Install the named Debian packages that are not installed yet (as root); nothing to do, no apt-get.
# Daemons are never started by the install: some packages (prometheus, openssh-server, babeld) start
# their service from postinst, and this machine runs tests and labs, not those services.
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]})) || exit 0

export DEBIAN_FRONTEND=noninteractive
# invoke-rc.d and deb-systemd-invoke ask policy-rc.d before starting anything; 101 means "forbidden".
# Ours only when there is none (a container often has its own), and removed however the install ends.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  trap 'rm -f "$policy"' EXIT
  printf '#!/bin/sh\n# scripts/apt-install.sh: no daemon starts while packages install\nexit 101\n' >"$policy"
  chmod 755 "$policy"
fi

# "pid program" of every process; the check below looks only at processes new since this list.
processes() {
  local pid exe
  for pid in /proc/[0-9]*; do
    exe=$(readlink "$pid/exe" 2>/dev/null) && echo "${pid#/proc/} $exe"
  done
  return 0
}
before=$(processes)

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# The guard behind the policy: a process that runs a program of the new packages and did not run
# before the install was started by it.
programs=$(dpkg-query -L "${missing[@]}" 2>/dev/null | grep -E '/s?bin/[^/]+$' || true)
started=$(comm -13 <(sort <<<"$before") <(processes | sort) | awk 'NR == FNR { p[$0] = 1; next } p[$2]' <(echo "$programs") -)
if [[ -n $started ]]; then
  echo "apt-install: the install started these daemons despite $policy (pid program):" >&2
  echo "$started" >&2
  echo "apt-install: stop them (kill PID): this machine must not run them" >&2
  exit 1
fi
