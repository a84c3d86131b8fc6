// rait-fleet against the floors and Fabric (and Ansible) on a lab of `size` real nodes: interleaved
// rounds of the no-op jobs, then the cold deploys, Ansible and WireGuard creation alone.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labDown, labUp, type Lab } from '../src/lab/index.js';
import { benchFixed, type FixedKey } from './fixed.js';
import { opensshCommand } from './floors.js';
import { busyMsPerS, mustMeasure } from './measure.js';
import { interleaved, summarizeCosts, type Case, type CostSample } from './rounds.js';
import { RUN_COMMAND, stageFiles } from './stage.js';
import { summarize, type Sample } from './stats.js';
import type { Teardown } from './teardown.js';

export const LAB_CASES = [
  ['openssh', 'OpenSSH floor: `ssh true`, every node at once'],
  ['stack', 'stack floor: ssh2, one process, `true` on every node'],
  ['noop', 'rait-fleet deploy, no-op'],
  ['status', 'rait-fleet status'],
  ['fabric', 'Fabric: the same files + agent, no-op'],
  ['cold', 'rait-fleet deploy, cold'],
  ['ansibleCold', 'Ansible, cold'],
  ['ansibleNoop', 'Ansible, no-op'],
] as const;
export type LabKey = (typeof LAB_CASES)[number][0];

export interface LabPaths {
  node: string;
  cli: string;
  stackFloor: string;
  wgCreate: string;
  fabric: string;
  python: string;
  ansible: string;
  ansiblePlaybook: string;
  work: string;
}

export interface LabOptions {
  rounds: number;
  coldRuns: number;
  /** Ansible runs (0: none); it takes ~25 s a run at 16 nodes. */
  ansibleRuns: number;
  wgCreateRuns: number;
  /** Fixed costs measured on this lab too (its inventory is the one render reads). */
  fixedRounds: number;
}

export interface LabResult {
  size: number;
  costs: Map<LabKey, CostSample>;
  wgCreate?: Sample;
  fixed?: Map<FixedKey, CostSample>;
  /** Busy CPU of the whole machine while the lab idled (ms per s): other work, and the lab's own daemons. */
  backgroundMsPerS: number;
}

const say = (m: string): void => void process.stderr.write(`bench: ${m}\n`);

export async function benchLab(size: number, p: LabPaths, o: LabOptions, teardown: Teardown): Promise<LabResult> {
  const name = `b${size}${Math.random()
    .toString(36)
    .slice(2, 4)
    .replace(/[^a-z0-9]/g, 'x')}`;
  const inv = join(p.work, `${name}.yaml`);
  say(`lab ${name}: ${size} nodes`);
  const lab: Lab = await labUp({ nodes: size, name, inventory: inv, dir: join(p.work, name), log: () => {} });
  const down = teardown.add(`lab ${name}`, async () => void (await labDown(name, lab.dir)));
  try {
    const sshdPids = lab.nodes.map((n) => n.sshdPid!);
    const cli = (...args: string[]) => [p.node, p.cli, ...args];
    await mustMeasure(cli('keygen', inv));
    const reset = async (): Promise<void> => {
      await mustMeasure(cli('down', inv));
      await mustMeasure(opensshCommand(lab, lab.nodes, 'rm -rf /etc/rait /root/rfbench'));
    };
    const costs = new Map<LabKey, CostSample>();

    if (o.coldRuns > 0) {
      const cold = [];
      for (let i = 0; i < o.coldRuns; i++) {
        await reset();
        cold.push(await mustMeasure(cli('deploy', inv), { sshdPids }));
      }
      costs.set('cold', summarizeCosts(cold));
      say(`${name}: cold deploy ${(costs.get('cold')!.wall.median / 1000).toFixed(2)} s`);
    } else {
      await mustMeasure(cli('deploy', inv));
    }
    const backgroundMsPerS = await busyMsPerS(2000);

    const stage = join(p.work, `${name}-stage`);
    await stageFiles(inv, stage);
    const hosts = join(stage, 'hosts.json');
    const fabricHosts = lab.nodes.map((n) => ({
      name: n.name,
      host: n.address,
      key: lab.keyFile,
      known_hosts: lab.knownHosts,
      stage: join(stage, n.name),
    }));
    writeFileSync(hosts, JSON.stringify(fabricHosts), { mode: 0o600 });
    const fabric = [p.python, p.fabric, hosts, RUN_COMMAND];
    if (o.rounds > 0) await mustMeasure(fabric); // the first copy of the files, untimed

    const cases: Case[] = [
      { key: 'openssh', argv: opensshCommand(lab, lab.nodes, 'true') },
      { key: 'stack', argv: [p.node, p.stackFloor, inv] },
      { key: 'noop', argv: cli('deploy', inv) },
      // exit 1 = degraded (e.g. a handshake still pending): still a whole status round.
      { key: 'status', argv: cli('status', inv), ok: [0, 1] },
      { key: 'fabric', argv: fabric },
    ];
    if (o.rounds > 0) {
      const rounds = await interleaved(cases, o.rounds, { sshdPids, log: (m) => say(`${name}: ${m}`) });
      for (const [key, sample] of rounds) costs.set(key as LabKey, sample);
    }

    const fixed = o.fixedRounds > 0 ? await benchFixed(lab, p, o.fixedRounds, (m) => say(`${name} fixed costs: ${m}`)) : undefined;

    if (o.ansibleRuns > 0) {
      const ansibleInventory = join(stage, 'hosts.ini');
      writeFileSync(
        ansibleInventory,
        lab.nodes.map((n) => `${n.name} ansible_host=${n.address}`).join('\n') +
          `\n[all:vars]\nansible_user=root\nansible_python_interpreter=/usr/bin/python3\nansible_ssh_private_key_file=${lab.keyFile}\n` +
          `ansible_ssh_common_args='-F /dev/null -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${lab.knownHosts}'\n`,
        { mode: 0o600 },
      );
      const vars = JSON.stringify({ stage_dir: stage, run_command: RUN_COMMAND });
      const ansible = [p.ansible, '-i', ansibleInventory, '-e', vars, p.ansiblePlaybook];
      const env = {
        ANSIBLE_FORKS: String(size),
        ANSIBLE_PIPELINING: '1',
        ANSIBLE_GATHERING: 'explicit',
        ANSIBLE_HOST_KEY_CHECKING: '1',
        ANSIBLE_RETRY_FILES_ENABLED: '0',
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_LOCAL_TEMP: join(stage, 'ansible-tmp'),
        ANSIBLE_SSH_CONTROL_PATH_DIR: join(stage, 'ansible-cp'),
      };
      const coldRuns = [];
      const noopRuns = [];
      // No nodes' CPU: ControlPersist keeps Ansible's sessions (and their sshd processes) beyond the run.
      for (let i = 0; i < o.ansibleRuns; i++) {
        await reset();
        coldRuns.push(await mustMeasure(ansible, { env }));
        noopRuns.push(await mustMeasure(ansible, { env }));
      }
      costs.set('ansibleCold', summarizeCosts(coldRuns));
      costs.set('ansibleNoop', summarizeCosts(noopRuns));
      say(`${name}: Ansible cold ${(costs.get('ansibleCold')!.wall.median / 1000).toFixed(1)} s`);
    }

    let wgCreate: Sample | undefined;
    if (o.wgCreateRuns > 0) {
      await reset();
      const wg: number[] = [];
      for (let i = 0; i < o.wgCreateRuns; i++) wg.push(Number((await mustMeasure([p.node, p.wgCreate, inv])).stdout.trim()));
      wgCreate = summarize(wg);
    }
    return { size, costs, wgCreate, fixed, backgroundMsPerS };
  } finally {
    await down();
  }
}
