#!/usr/bin/env node
// Bundles the CLI into one file, written over tsc's dist/src/cli.js (so every way of running it,
// `node dist/src/cli.js` and the package's bin alike, starts the bundle), and the benchmark's stack
// floor the same way (dist/bench/stack-floor.js), so that the floor it is measured against loads its
// code as it does. Why: Node 20 loads a dependency of many small files slowly (yaml is 72 files:
// 30 ms of CPU required, 7 ms bundled); it has no compile cache. Measured in BENCHMARKS.md.
//
// - ssh2 stays outside: its native crypto binding is found next to its own files. So does tweetnacl
//   (71 KB), which only pull mode's signing key needs: bundled, every process would compile it;
//   outside, Node reads its one file when pull mode first asks for it.
// - requireCjs('x') (src/cjs.ts: how Node loads CommonJS dependencies cheaply without a bundle) is
//   read as require('x'), which esbuild bundles and still evaluates only when first called: a
//   command that renders no template never runs liquidjs.
// - The bundle is an ES module: a require of its own serves the bundled CommonJS code and ssh2.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Source files: requireCjs(...) calls become require(...) calls. */
const requireCjsAsRequire = {
  name: 'require-cjs-as-require',
  setup(build) {
    build.onLoad({ filter: /\/(src|bench)\/.*\.ts$/ }, (args) => ({
      contents: readFileSync(args.path, 'utf8').replace(/\brequireCjs\(/g, 'require('),
      loader: 'ts',
    }));
  },
};

const bundles = [
  ['src/cli.ts', 'dist/src/cli.js'],
  ['bench/stack-floor.ts', 'dist/bench/stack-floor.js'],
];

for (const [entry, out] of bundles) {
  await esbuild.build({
    entryPoints: [join(root, entry)],
    outfile: join(root, out),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['ssh2', 'tweetnacl'],
    banner: { js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);" },
    plugins: [requireCjsAsRequire],
    logLevel: 'warning',
  });
}
