#!/usr/bin/env bash
# Install the peers the benchmark compares against (Debian's Ansible and Fabric), only when missing.
# Kept out of scripts/setup.sh so CI stays lean. Run as root.
set -euo pipefail
"$(dirname "$0")/../scripts/apt-install.sh" ansible-core python3-fabric
