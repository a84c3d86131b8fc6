// The agent's babeld decisions, run as shell functions on config texts: the interface line a link
// added at run time gets, and what a new babeld.conf needs from the running babeld. No root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentShell } from './agent-harness.js';

/** RAIT's README template as rendered for a node with two links. */
const RAIT_CONF = `random-id true
export-table 254
kernel-priority 256

default type tunnel link-quality true split-horizon false
default rxcost 32 hello-interval 20 max-rtt-penalty 1024 rtt-max 1024

interface rait50001
interface rait50002 rxcost 64 # a slower link
redistribute local deny
`;

const lines = (names: string, conf = RAIT_CONF): string[] =>
  agentShell(`P_BABELD_CONFIG="$1/babeld.conf"; babel_interface_lines ${names}`, { 'babeld.conf': conf }).trim().split('\n');

test("a link added at run time carries the config's default lines, merged with its own line", () => {
  assert.deepEqual(lines('rait50001 rait50002 rait50003'), [
    'interface rait50001 type tunnel link-quality true split-horizon false rxcost 32 hello-interval 20 max-rtt-penalty 1024 rtt-max 1024',
    'interface rait50002 type tunnel link-quality true split-horizon false rxcost 64 hello-interval 20 max-rtt-penalty 1024 rtt-max 1024',
    'interface rait50003 type tunnel link-quality true split-horizon false rxcost 32 hello-interval 20 max-rtt-penalty 1024 rtt-max 1024',
  ]);
  // No default lines: the link's own parameters only, or none.
  assert.deepEqual(lines('rait50001 rait50009', 'interface rait50001 rxcost 40\n'), [
    'interface rait50001 rxcost 40',
    'interface rait50009',
  ]);
});

const changes = (running: string, next: string): string =>
  agentShell('babel_config_changes "$1/running" "$1/new"', { running, new: next }).trim();

test('babeld.conf changes: interfaces go through the socket, anything else restarts babeld', () => {
  const more = RAIT_CONF.replace('redistribute local deny', 'interface rait50003\nredistribute local deny');
  assert.equal(changes(RAIT_CONF, more), '', 'an added interface needs no restart');
  assert.equal(changes(more, RAIT_CONF), '', 'nor a removed one');
  assert.equal(changes(RAIT_CONF, RAIT_CONF.replace('rxcost 64', 'rxcost 96')), 'readd rait50002');
  assert.equal(
    changes(RAIT_CONF, RAIT_CONF.replace('redistribute local deny', 'redistribute local ip fd00::/64 allow\nredistribute local deny')),
    'restart',
  );
  assert.equal(changes(RAIT_CONF, RAIT_CONF.replace('hello-interval 20', 'hello-interval 4')), 'restart');
  assert.equal(changes(RAIT_CONF, `# a comment\n${RAIT_CONF.replace('random-id true', 'random-id   true  # spacing')}`), '');
  assert.equal(agentShell('babel_config_changes "$1/missing" "$1/new"', { new: RAIT_CONF }).trim(), 'restart', 'an unknown running config');
});

test("an error excerpt shows a daemon's real error, never wireguard-go's banner", () => {
  const banner = [
    'ERROR: (rait50001) 2026/11/27 16:32:21 Failed to create TUN device: too many open files',
    '┌──────────────────────────────────────────────────────┐',
    '│                                                      │',
    '│   Running wireguard-go is not required because this  │',
    '│   kernel has first class support for WireGuard. For  │',
    '└──────────────────────────────────────────────────────┘',
    '',
  ].join('\n');
  assert.equal(
    agentShell('log_tail "$1/log"', { log: banner }).trim(),
    'ERROR: (rait50001) 2026/11/27 16:32:21 Failed to create TUN device: too many open files',
  );
});

/**
 * Shell for agentShell: fake_babeld starts the agent's babeld in $d, a process named babeld (sleep
 * under that name) detached so its parent is not this shell; its pid in $d/babeld.pid and $pid.
 */
const FAKE_BABELD = `d=$1
ln -s "$(command -v sleep)" "$d/babeld"
fake_babeld() {
  ( "$d/babeld" 60 </dev/null >/dev/null 2>&1 & echo $! >"$d/babeld.pid" )
  pid=$(cat "$d/babeld.pid")
  # Until the fork has exec'd, the process is still a shell.
  i=0; while [ "$(cat /proc/$pid/comm 2>/dev/null)" != babeld ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
}
`;

/** sync_babeld with babeld turned off (mesh.babeld.enabled: false) on a node where the agent's babeld runs. */
function babeldOff(mode: 'deploy' | 'check'): { result: string; alive: boolean } {
  const out = agentShell(
    `${FAKE_BABELD}
    fake_babeld
    STAGE=$1 BABELD_PIDFILE=$1/babeld.pid BABELD_RUNNING=$1/running P_BABELD=0 MODE=deploy
    [ ${mode} = check ] && DRY=1
    sync_babeld 4>/dev/null
    echo "$BABELD"
    if kill -0 "$pid" 2>/dev/null; then echo alive; kill "$pid"; else echo gone; fi`,
  );
  const [result, alive] = out.trim().split('\n');
  return { result: result!, alive: alive === 'alive' };
}

test('babeld turned off: the babeld the agent started is stopped (check mode says it would be)', () => {
  assert.deepEqual(babeldOff('deploy'), { result: 'stopped', alive: false });
  assert.deepEqual(babeldOff('check'), { result: 'would-stopped', alive: true });
  // None of ours runs: nothing to do, and nothing else is looked at.
  assert.equal(agentShell('BABELD_PIDFILE=$1/none P_BABELD=0 MODE=deploy; sync_babeld; echo "$BABELD"').trim(), 'disabled');
});

test('what our babeld has is remembered for the same process: a no-op skips the dump, a restart or a torn record does not', () => {
  const out = agentShell(
    `${FAKE_BABELD}
    fake_babeld
    BABELD_PIDFILE=$1/babeld.pid BABEL_KNOWN_FILE=$1/known P_BABELD_MANAGE=agent DRY=0
    # The socket: a dump of two interfaces, each call counted.
    babel_ctl() { echo dump >>"$d/dumps"; printf 'add interface rait1 up true\\nadd interface rait2 up true\\nok\\n'; }
    known() { BABEL_KNOWN_READ=0 BABEL_KNOWN_CHANGED=0; babel_known; echo "[$BABEL_KNOWN] dumps $(wc -l <"$d/dumps" 2>/dev/null || echo 0)"; }
    known
    record_babel_known
    known
    known_after 'flush interface rait1'
    known_after 'interface rait3 type tunnel rxcost 32'
    record_babel_known
    known
    # A torn write (no final " ."), then another process under the same pid file.
    sed 's/ \\.$//' "$1/known" >"$1/torn" && mv "$1/torn" "$1/known"
    known
    record_babel_known
    kill "$pid"
    fake_babeld
    known
    kill "$pid"`,
  );
  assert.deepEqual(out.trim().split('\n'), [
    '[ rait1 rait2 ] dumps 1',
    '[ rait1 rait2 ] dumps 1',
    '[ rait2 rait3 ] dumps 1',
    '[ rait1 rait2 ] dumps 2',
    '[ rait1 rait2 ] dumps 3',
  ]);
});
