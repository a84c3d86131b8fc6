#!/usr/bin/env node
// Argument parsing and wiring only: each command lives in src/commands/<name>.ts.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from './commands/commander.js';
import { InputError, EXIT_USAGE, EXIT_FAILED } from './errors.js';
import { commands } from './commands/index.js';
import { PACKAGE_JSON } from './paths.js';

const pkg = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string };

const program = new Command('rait-fleet')
  .description('Build and run a full mesh of RAIT-style WireGuard tunnels across a fleet, over SSH')
  .version(pkg.version)
  .showHelpAfterError()
  .exitOverride();

for (const register of commands) register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here with exit code 0; usage errors were already printed.
    process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
  }
  if (err instanceof InputError) {
    process.stderr.write(`rait-fleet: ${err.message}\n`);
    process.exit(EXIT_USAGE);
  }
  process.stderr.write(`rait-fleet: ${err instanceof Error ? err.message : String(err)}\n`);
  if (process.env.RAIT_FLEET_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exit(EXIT_FAILED);
}
