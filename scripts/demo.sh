#!/usr/bin/env bash
# The main job on one machine: a 4-node lab, keys, a deployed mesh and its status. Run as root after
# scripts/setup.sh. Leaves the mesh running; `node dist/src/cli.js lab down` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."

cli() { node dist/src/cli.js "$@"; }
inventory=inventories/lab.yaml

if [[ -f .lab/lab/lab.json ]]; then
  echo "== a lab named 'lab' is already up; reusing it (remove it with: node dist/src/cli.js down $inventory && node dist/src/cli.js lab down)"
else
  echo "== rait-fleet lab up"
  cli lab up --inventory "$inventory"
fi
echo "== rait-fleet keygen $inventory"
cli keygen "$inventory"
echo "== rait-fleet deploy $inventory"
cli deploy "$inventory"
echo "== rait-fleet status $inventory (babeld needs a few seconds to find its neighbours)"
for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do
  if cli status "$inventory" >/dev/null 2>&1; then break; fi
  sleep 5
done
cli status "$inventory" || true
loopback3=$(cli lab exec n3 -- ip -6 -o address show dev lo scope global | awk '{print $4; exit}')
cat <<EOT

The mesh is up: 4 nodes, 12 WireGuard links, babeld routing between the nodes' loopbacks. Look at it:
  node dist/src/cli.js status $inventory              # health: nodes, link matrix, problems
  node dist/src/cli.js lab exec n1 -- wg show          # WireGuard on node n1
  node dist/src/cli.js lab exec n1 -- ping -c1 ${loopback3%/*}   # n3's loopback, over the overlay
  node dist/src/cli.js lab status                      # the lab's nodes and their sshd
Remove it:
  node dist/src/cli.js down $inventory && node dist/src/cli.js lab down
EOT
