import type { Command } from 'commander';
import { Option } from 'commander';
import { InputError } from '../errors.js';
import { didYouMean } from '../inventory/suggest.js';
import { planMesh } from '../mesh/plan.js';
import { redactSecrets } from '../mesh/redact.js';
import { compileTemplate, renderTemplate, sharedScope, templateScope } from '../mesh/template.js';
import { loadTemplates, readTemplate } from '../mesh/templates.js';
import type { NodeFiles } from '../mesh/types.js';
import { prepareFleet } from '../state/fleet.js';
import { inventoryArgHelp } from './options.js';

const FILES = ['rait.conf', 'peers.conf', 'babeld.conf'] as const;

interface RenderFlags {
  node: string;
  file?: (typeof FILES)[number];
  showSecrets?: boolean;
  template?: string;
}

export default function register(program: Command): void {
  program
    .command('render')
    .description("print the files deploy would push to a node (private key redacted)")
    .argument('[inventory]', inventoryArgHelp)
    .requiredOption('-n, --node <name>', 'the node whose files to print')
    .addOption(new Option('--file <name>', 'print only this file').choices(FILES))
    .addOption(new Option('--template <file>', "render this liquid template with the node's variables instead").conflicts('file'))
    .option('--show-secrets', 'print the private key instead of <redacted>')
    .addHelpText('after', '\nGenerates keys for nodes lacking them (saying so on stderr), like deploy.')
    .action(async (inventoryArg: string | undefined, flags: RenderFlags) => {
      const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
      // Rendered before any new keys are saved: a wrong --node or a broken template writes nothing.
      const { output, privateKey } = await prepareFleet(inventoryArg, log, {}, ({ inventory, state }) => {
        const plan = planMesh(inventory, state, loadTemplates(inventory));
        const self = plan.nodes.find((np) => np.node.name === flags.node);
        if (!self) {
          const names = plan.nodes.map((np) => np.node.name);
          throw new InputError(`no node "${flags.node}" in ${inventory.path}${didYouMean(flags.node, names)}`, { field: '--node' });
        }
        const text = flags.template
          ? renderTemplate(compileTemplate(readTemplate(flags.template), flags.template), templateScope(self, sharedScope(plan)))
          : selectFiles(self.files, flags.file);
        return { output: text, privateKey: self.keys.privateKey };
      });
      process.stdout.write(flags.showSecrets ? output : redactSecrets(output, [privateKey]));
    });
}

function selectFiles(files: NodeFiles, only: RenderFlags['file']): string {
  if (only) {
    const text = files[only];
    if (text === undefined) throw new InputError('babeld is disabled in this inventory', { field: '--file' });
    return text;
  }
  return FILES.filter((f) => files[f] !== undefined).map((f) => `==> ${f} <==\n${files[f]}`).join('\n');
}
