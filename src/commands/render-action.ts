// render's work, loaded only when render runs (see render.ts).
import { InputError } from '../errors.js';
import { didYouMean } from '../inventory/suggest.js';
import { planMesh } from '../mesh/plan.js';
import { redactSecrets } from '../mesh/redact.js';
import { compileTemplate, renderTemplate, sharedScope, templateScope } from '../mesh/template.js';
import { loadTemplates, readTemplate } from '../mesh/templates.js';
import { NODE_FILES, type NodeFileName, type NodeFiles } from '../mesh/types.js';
import { prepareFleet } from '../state/fleet.js';

export interface RenderFlags {
  node: string;
  file?: NodeFileName;
  showSecrets?: boolean;
  template?: string;
}

export async function runRender(inventoryArg: string | undefined, flags: RenderFlags): Promise<void> {
  const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
  // Rendered before any new keys are saved: a wrong --node or a broken template writes nothing.
  const { output, privateKey } = await prepareFleet(inventoryArg, log, {}, ({ inventory, state, checkKeyPairs }) => {
    const plan = planMesh(inventory, state, loadTemplates(inventory));
    const self = plan.nodes.find((np) => np.node.name === flags.node);
    if (!self) {
      const names = plan.nodes.map((np) => np.node.name);
      throw new InputError(`no node "${flags.node}" in ${inventory.path}${didYouMean(flags.node, names)}`, { field: '--node' });
    }
    // The private key is used only when shown; deploy checks it before it sends the key anywhere.
    if (flags.showSecrets) checkKeyPairs([flags.node]);
    const text = flags.template
      ? renderTemplate(compileTemplate(readTemplate(flags.template), flags.template), templateScope(self, sharedScope(plan)))
      : selectFiles(self.files, flags.file);
    return { output: text, privateKey: self.keys.privateKey };
  });
  process.stdout.write(flags.showSecrets ? output : redactSecrets(output, [privateKey]));
}

function selectFiles(files: NodeFiles, only: RenderFlags['file']): string {
  if (only) {
    const text = files[only];
    if (text === undefined) throw new InputError(whyNo(only), { field: '--file' });
    return text;
  }
  return NODE_FILES.filter((f) => files[f] !== undefined)
    .map((f) => `==> ${f} <==\n${files[f]}`)
    .join('\n');
}

function whyNo(file: NodeFileName): string {
  if (file === 'babeld.conf') return 'babeld is disabled in this inventory';
  if (file === 'rait-ip4.conf' || file === 'rait-ip6.conf') {
    return `the node has no second transport in ${file.slice(5, 8)} (rait.conf is its first transport's)`;
  }
  if (file === 'pull' || file.startsWith('rait-fleet-pull')) return 'mesh.pull is not set in this inventory';
  return 'mesh.heal_interval is 0 in this inventory: no heal units';
}
