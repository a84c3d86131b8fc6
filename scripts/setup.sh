#!/usr/bin/env bash
# Install what rait-fleet, its lab and its tests need on a Debian/Ubuntu machine (as root), then
# the npm dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  openssh-server openssh-client    # the lab's nodes run sshd; tests use ssh/ssh-keygen
  wireguard-tools wireguard-go     # wg, and WireGuard in userspace where the kernel has none
  babeld                           # routing over the mesh
  iproute2 iputils-ping procps util-linux  # ip, ping, ps, unshare/nsenter
  socat                            # the agent talks to babeld's control socket
  diffutils                        # deploy --check shows unified diffs
  nftables                         # fault tests drop a node's packets
  shellcheck                       # lints the agent script
  sudo                             # e2e tests of become: true (agent run through sudo -n)
  systemd                          # systemd-analyze verifies the units deploy installs
  prometheus                       # promtool checks the metrics and alert rules; the exporter e2e scrapes
  curl openssl                     # pull mode: lab nodes fetch the registry and verify its Ed25519 signature
  wget                             # pull mode's fallback where curl is missing (tested)
)
./scripts/apt-install.sh "${packages[@]}"
# Debian's own nodejs may be older than package.json's engines; say so before npm ci fails obscurely.
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null; then
  echo "setup: rait-fleet needs Node.js 20 or later (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
npm ci --no-audit --no-fund
