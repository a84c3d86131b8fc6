import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_START, instrumented, MAIN, PRELUDE, straceSegments } from '../../bench/agent.js';
import { escapeRegExp as esc } from '../fixtures/cli.js';
import { shellQuote } from '../../src/agent/payload.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const tmp = tempDirs('rf-bench-agent-');

const agent = [
  '#!/bin/sh',
  'read_plan() {',
  '\techo plan',
  '}',
  'cleanup() {',
  '\t:',
  '}',
  'main() {',
  '\ttrap cleanup EXIT',
  '\tread_plan',
  '}',
  'main "$@"',
  '',
].join('\n');
const payload = `rf_payload() {\nprintf '%s' ${shellQuote(agent)} >"$1/rait-fleet-agent"\n}\nrf_run() {\n\texec sh "$rf_stage/rait-fleet-agent" "$@"\n}\n`;

test("instrumented: the payload's prelude and the agent's steps record their start, and it is still valid sh", () => {
  const marked = instrumented(payload, agent);
  execFileSync('sh', ['-n'], { input: marked });
  assert.match(marked, new RegExp(`^rf_mark\\(\\) \\{.*\\nrf_mark '${esc(PRELUDE)}'\\n`, 's'));
  assert.match(marked, new RegExp(`\\trf_mark '${esc(AGENT_START)}'\\n\\texec sh`));
  // The agent the payload stages (one quoted printf argument), as the node would write it.
  const stage = tmp();
  execFileSync('sh', ['-s', stage], { input: `${marked}rf_payload "$1"\n`, env: { ...process.env, RF_MARKS: '/dev/null' } });
  const staged = readFileSync(join(stage, 'rait-fleet-agent'), 'utf8');
  execFileSync('sh', ['-n'], { input: staged });
  assert.match(staged, /^rf_orig_read_plan\(\) \{$/m);
  assert.match(staged, /^read_plan\(\) \{ rf_mark read_plan; rf_orig_read_plan "\$@"; \}$/m);
  assert.match(staged, /^cleanup\(\) \{ rf_mark cleanup; rf_orig_cleanup "\$@"; rf_s=\$\?; rf_mark end; return \$rf_s; \}$/m);
  assert.match(staged, new RegExp(`\\nrf_mark '${esc(MAIN)}'\\nmain "\\$@"\\n`));
  for (const label of [PRELUDE, AGENT_START, MAIN]) assert.ok(!label.includes("'"), label);
});

test('straceSegments: forks and programs between opens of the marks file, unfinished calls resumed', () => {
  const log = [
    '10 execve("/usr/bin/sh", ["sh"], 0x0 /* 3 vars */) = 0',
    '10 openat(AT_FDCWD, "/tmp/marks", O_WRONLY|O_CREAT|O_APPEND, 0666) = 3',
    '10 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD <unfinished ...>',
    '11 execve("/usr/bin/cat", ["cat"], 0x0 /* 3 vars */ <unfinished ...>',
    '10 <... clone resumed>, child_tidptr=0x1) = 11',
    '11 <... execve resumed>) = 0',
    '10 openat(AT_FDCWD, "/tmp/marks", O_WRONLY|O_CREAT|O_APPEND, 0666) = 3',
    '10 clone(child_stack=0x1, flags=CLONE_VM|CLONE_THREAD|CLONE_SIGHAND) = 12',
    '10 clone3({flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD}, 88) = 13',
    '13 execve("/usr/bin/awk", ["awk"], 0x0 /* 3 vars */) = 0',
    '13 execve("/usr/local/bin/missing", ["missing"], 0x0 /* 3 vars */) = -1 ENOENT (No such file or directory)',
    '10 openat(AT_FDCWD, "/etc/passwd", O_RDONLY) = 4',
  ].join('\n');
  assert.deepEqual(straceSegments(log, '/tmp/marks').segments, [
    { forks: 1, execs: ['cat'] },
    { forks: 1, execs: ['awk'] },
  ]);
});
