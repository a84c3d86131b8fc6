/** Errors the user can fix: bad inventory, state or flags. They exit with code 2 and name where. */
export interface Where {
  file?: string;
  line?: number;
  column?: number;
  field?: string;
}

export class InputError extends Error {
  readonly where: Where;
  constructor(message: string, where: Where = {}) {
    super(formatWhere(where) + message);
    this.name = 'InputError';
    this.where = where;
  }
}

function formatWhere({ file, line, column, field }: Where): string {
  let s = '';
  if (file) s += file;
  if (file && line) s += `:${line}` + (column ? `:${column}` : '');
  if (s) s += ': ';
  if (field) s += `${field}: `;
  return s;
}

/** Exit codes, documented in the README. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
/** deploy: the rollout stopped, and every node it had changed in the failing batch is back on its previous plan. */
export const EXIT_ROLLED_BACK = 3;
