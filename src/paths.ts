// The package's own files that rait-fleet reads at run time, found from this module's place. Every
// build output that can hold this code sits two levels below the package root: dist/src/ (tsc's
// output, and the CLI bundle dist/src/cli.js: scripts/bundle.mjs) and dist/bench/.
import { fileURLToPath } from 'node:url';

const ROOT = new URL('../../', import.meta.url);

export const PACKAGE_JSON = fileURLToPath(new URL('package.json', ROOT));
/** Where the build (scripts/build-agent.mjs) puts the agent. */
export const AGENT_SCRIPT = fileURLToPath(new URL('dist/agent/rait-fleet-agent', ROOT));
/** The babeld template shipped with rait-fleet, used when the inventory names none. */
export const DEFAULT_BABELD_TEMPLATE = fileURLToPath(new URL('templates/babeld.conf.liquid', ROOT));
