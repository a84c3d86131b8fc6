// The lab's public API.
export { labUp } from './up.js';
export { labDown } from './down.js';
export { readLab } from './store.js';
export { labExec } from './exec.js';
export { labStatus } from './status.js';
export type { Lab, LabNode, LabUpOptions } from './types.js';
