#!/bin/sh
# shellcheck disable=SC2317 # functions named at run time: isolation modes (iso), the EXIT trap
# rait-fleet-agent — the rait-fleet node agent. POSIX sh; needs ip, wg, kernel WireGuard or
# wireguard-go, and babeld when the plan enables it.
#
# Usage: sh -s -- deploy|check|down|status [-v]
# stdin: a prelude defining rf_payload() (writes plan, rait.conf, peers.conf, babeld.conf and
# private.key into the directory given as $1), then this script. The protocol and every file
# format: docs/agent-protocol.md.
#
# stdout carries exactly one JSON document (src/agent/report.ts); everything else goes to stderr.
# Exit 0 whenever that document was printed, also with "ok": false.
#
# Built from src/agent/sh/*.sh (scripts/build-agent.mjs): edit those, not this file.

export LC_ALL=C
umask 077
# Unset variables are bugs; names read from the system are split on spaces but never globbed.
set -uf
