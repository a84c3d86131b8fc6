#!/bin/sh
# shellcheck disable=SC2317 # functions named at run time: isolation modes (iso), the EXIT trap
# rait-fleet-agent — the rait-fleet node agent. POSIX sh; needs ip, wg, kernel WireGuard or
# wireguard-go, and babeld when the plan enables it.
#
# Usage:
#   rait-fleet-agent deploy|check|down|status --stage DIR [-v]
#       as rait-fleet runs it over SSH: DIR holds the plan and the files it sends
#   rait-fleet-agent apply [--boot|--heal] [-v]
#       on the node alone: apply again the plan the last deploy left beside this script
#   rait-fleet-agent status
#       the status document, for the plan left beside this script
#   rait-fleet-agent pull [-v]
#       pull mode: fetch this node's signed registry, verify it, apply it (docs/pull-mode.md)
# The protocol and every file format: docs/agent-protocol.md.
#
# stdout carries exactly one JSON document (src/agent/report.ts); everything else goes to stderr.
# Exit 0 whenever that document was printed, also with "ok": false; apply exits 1 then, so a
# systemd unit shows the failure.
#
# Built from src/agent/sh/*.sh (scripts/build-agent.mjs): edit those, not this file.

export LC_ALL=C
umask 077
# Unset variables are bugs; names read from the system are split on spaces but never globbed.
set -uf

# The agent's own files on the node: at run time (babeld's pid and the config it runs, the links
# that failed), kept across reboots (babeld's state), and logs. The RF_* are test seams.
RUN_DIR=${RF_RUN_DIR:-/run/rait-fleet}
STATE_DIR=${RF_STATE_DIR:-/var/lib/rait-fleet}
LOG_DIR=${RF_LOG_DIR:-/var/log/rait-fleet}
# A newline, to split command output in the shell without a process.
NL='
'
