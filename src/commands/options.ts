// Flags several commands share, parsed the same way everywhere.
import { Option } from './commander.js';
import { InputError } from '../errors.js';

/**
 * Nodes handled at once. Each node costs a TCP connection and a key exchange (a few ms of CPU) and
 * then mostly waits on the network and the node itself, so a high bound costs little; 32 keeps the
 * control machine's open connections and memory modest while a 100-node fleet needs only 4 waves.
 */
const DEFAULT_FORKS = 32;

export function positiveInt(flag: string) {
  return (value: string): number => {
    if (!/^[1-9][0-9]{0,5}$/.test(value)) throw new InputError(`expected a positive whole number, got "${value}"`, { field: flag });
    return Number(value);
  };
}

export const inventoryArgHelp = 'inventory file (default: $RAIT_FLEET_INVENTORY or ./inventory.yaml)';

export const limitOption = () =>
  new Option('-l, --limit <names>', 'only these nodes or groups (comma-separated); plans still cover the whole mesh');
export const forksOption = () =>
  new Option('-f, --forks <n>', 'how many nodes to work on at once').argParser(positiveInt('--forks')).default(DEFAULT_FORKS);
export const jsonOption = () => new Option('--json', 'print one machine-readable JSON document on stdout, no progress');
export const verboseOption = () => new Option('-v, --verbose', 'show every command the agent runs on the nodes');
