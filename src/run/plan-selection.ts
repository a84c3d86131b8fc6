// What deploy, down and status work from: a plan of the whole inventory (so --limit never cuts a peer
// off), the nodes selected, and their files rendered now, so a broken template is refused before the
// state is written or a node is touched.
import type { Fleet } from '../state/fleet.js';
import type { Node } from '../inventory/types.js';
import type { Plan } from '../mesh/types.js';
import { loadTemplates } from '../mesh/templates.js';
import { planMesh, renderFilesOf } from '../mesh/plan.js';
import { selectNodes } from '../inventory/select.js';

export interface PlanSelection {
  plan: Plan;
  selected: Node[];
}

export function planSelection({ inventory, state, checkKeyPairs }: Fleet, limit: string | undefined): PlanSelection {
  const plan = planMesh(inventory, state, loadTemplates(inventory));
  const selected = selectNodes(inventory, limit);
  // Their rait.conf carries their private key: the key pairs of these nodes, and only these, are checked.
  checkKeyPairs(selected.map((n) => n.name));
  renderFilesOf(plan, selected);
  return { plan, selected };
}
