// Two SSH features of issue 4 against a real 2-node lab: `become: true` (a non-root SSH user whose agent
// runs through `sudo -n`) and authentication through an ssh-agent (SSH_AUTH_SOCK). Runs as root.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { labExec, type Lab } from '../../src/lab/index.js';
import { readState } from '../../src/state/store.js';
import { editInventory, outcomes, runCli } from './cli-helpers.js';
import { labSuite } from './lab-suite.js';
import { expectedLinks as expectedLinksOf, managedLinks } from './mesh-facts.js';

const run = promisify(execFile);

/** The SSH user `become` is tested with; its home is in the node's private /tmp (/home is the host's). */
const USER = 'op';
const SUDO_LOG = '/tmp/sudo.log';

async function nodeSh(lab: Lab, node: string, script: string): Promise<string> {
  const r = await labExec(lab, node, ['sh', '-ec', script]);
  assert.equal(r.code, 0, `${node}: ${script}\n${r.stderr}`);
  return r.stdout;
}

/** Creates USER in the node's own /etc (an overlay) with the lab key authorized and passwordless sudo. */
async function addSudoUser(lab: Lab, node: string): Promise<void> {
  await nodeSh(
    lab,
    node,
    `
    # -p '*': no password, but not locked ('!'), which sshd without PAM would refuse even for keys.
    useradd -M -d /tmp/${USER} -s /bin/sh -p '*' ${USER}
    mkdir -p /tmp/${USER}/.ssh
    cp /root/.ssh/authorized_keys /tmp/${USER}/.ssh/authorized_keys
    chown -R ${USER}: /tmp/${USER}
    chmod 700 /tmp/${USER} /tmp/${USER}/.ssh
    # Every command sudo runs for ${USER}, one line each: shows what was on sudo's command line.
    echo 'Defaults:${USER} logfile=${SUDO_LOG}, loglinelen=0' >/etc/sudoers.d/${USER}-log
    echo '${USER} ALL=(root) NOPASSWD: ALL' >/etc/sudoers.d/${USER}
    chmod 0440 /etc/sudoers.d/${USER}-log /etc/sudoers.d/${USER}
    visudo -c >/dev/null`,
  );
}

describe('SSH features of issue 4 on a 2-node lab', () => {
  const suite = labSuite('auth', 2);
  const { work, inventory } = suite;
  const hostPasswd = readFileSync('/etc/passwd', 'utf8');
  let lab: Lab | undefined;
  let agentPid: number | undefined;

  const expectedLinks = (node: string): string[] => expectedLinksOf(lab!, readState(suite.statePath), node);
  const linkNames = async (node: string): Promise<string[]> => [...(await managedLinks(lab!, node)).keys()].sort();

  before(() => void (lab = suite.lab));
  after(async () => {
    if (agentPid !== undefined) {
      try {
        process.kill(agentPid);
      } catch {
        // already gone
      }
    }
  });

  it('become: deploys n1 as a non-root user through sudo -n, the private key only on stdin', async () => {
    await addSudoUser(lab!, 'n1');
    assert.equal(readFileSync('/etc/passwd', 'utf8'), hostPasswd, 'useradd in the node must not touch the host /etc/passwd');
    editInventory(inventory, (doc) => {
      doc.setIn(['nodes', 'n1', 'ssh', 'user'], USER);
      doc.setIn(['nodes', 'n1', 'ssh', 'become'], true);
    });

    const r = await runCli(['deploy', inventory, '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    for (const o of outcomes(r.stdout).values()) assert.equal(o.result, 'changed', `${o.node}: ${o.error}`);
    for (const node of ['n1', 'n2']) assert.deepEqual(await linkNames(node), expectedLinks(node));

    // sudo ran the agent as root for op, and its command line was the fixed words: the payload came on stdin.
    const log = await nodeSh(lab!, 'n1', `cat ${SUDO_LOG}`);
    // (and a deploy id and the switch's seconds, checked values: docs/agent-protocol.md, "Rollback")
    assert.match(
      log,
      new RegExp(`: ${USER} : .*USER=root ; COMMAND=\\S*/sh -s -- deploy --snapshot [0-9T]+-[0-9a-f]{8} --switch 30$`, 'm'),
      log,
    );
    assert.match(log, new RegExp(`: ${USER} : .*USER=root ; COMMAND=\\S*/sh -s -- confirm --snapshot [0-9T]+-[0-9a-f]{8}$`, 'm'), log);
    const privateKey = readState(suite.statePath).nodes['n1']!.privateKey;
    assert.ok(!log.includes(privateKey), "the private key must not be on sudo's command line");
  });

  it('become: a sudo that wants a password fails n1 with a clear message, n2 still deploys', async () => {
    await nodeSh(lab!, 'n1', `rm /etc/sudoers.d/${USER}`);
    const r = await runCli(['deploy', inventory, '--json']);
    assert.notEqual(r.code, 0, r.stdout);
    const byNode = outcomes(r.stdout);
    assert.equal(byNode.get('n1')?.result, 'failed');
    assert.match(byNode.get('n1')?.error ?? '', new RegExp(`sudo .*wants a password.*${USER}`));
    assert.equal(byNode.get('n2')?.result, 'unchanged', byNode.get('n2')?.error);
    assert.doesNotMatch(r.stderr, /rolling back/, 'sudo refused before the agent ran: nothing to confirm or roll back');
  });

  it('ssh-agent: authenticates through SSH_AUTH_SOCK when the identity file does not exist', async () => {
    const socket = join(work, 'agent.sock');
    const started = await run('ssh-agent', ['-a', socket, '-s']);
    agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(started.stdout)?.[1]);
    assert.ok(Number.isInteger(agentPid), started.stdout);
    await run('ssh-add', ['-q', lab!.keyFile], { env: { ...process.env, SSH_AUTH_SOCK: socket } });

    const missing = join(work, 'no-such-key');
    editInventory(inventory, (doc) => {
      doc.deleteIn(['nodes', 'n1', 'ssh']);
      doc.setIn(['ssh', 'identity_file'], missing);
    });
    // Without the agent the same inventory cannot log in: the agent is what makes the next run work.
    const without = await runCli(['deploy', inventory, '--json'], { SSH_AUTH_SOCK: '' });
    assert.notEqual(without.code, 0, without.stdout);
    for (const o of outcomes(without.stdout).values()) assert.match(o.error ?? '', /not found and no ssh-agent/, o.node);

    const r = await runCli(['deploy', inventory, '--json'], { SSH_AUTH_SOCK: socket });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    for (const o of outcomes(r.stdout).values()) assert.ok(['changed', 'unchanged'].includes(o.result), `${o.node}: ${o.error}`);
    for (const node of ['n1', 'n2']) assert.deepEqual(await linkNames(node), expectedLinks(node));
  });
});
