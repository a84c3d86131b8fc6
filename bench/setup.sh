#!/usr/bin/env bash
# Install the peers the benchmark compares against (Debian's Ansible and Fabric) and strace, which
# counts the processes the agent starts; only what is missing.
# Kept out of scripts/setup.sh so CI stays lean. Run as root.
set -euo pipefail
"$(dirname "$0")/../scripts/apt-install.sh" ansible-core python3-fabric strace
