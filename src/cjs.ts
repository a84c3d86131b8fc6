// CommonJS dependencies are loaded with require(), not import. Importing a CommonJS package from an ES
// module makes Node scan its whole source for export names (cjs-module-lexer) and check its syntax
// before the CommonJS loader compiles it anyway: measured here (Node 20, 2 cores), liquidjs costs 50 ms
// of CPU imported and 10 ms required, commander 20 and 8, tweetnacl 26 and 6. Types still come from
// `import type`, which costs nothing at run time.
import { createRequire } from 'node:module';

export const requireCjs = createRequire(import.meta.url);
