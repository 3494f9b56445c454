#!/usr/bin/env node
// After tsc: bundles the agent from its TypeScript sources (tsc has type-checked them) into
// two files (without this step dist/ still works, unbundled):
// - dist/bundle.js, what the preload loads: src/bundle.ts and everything it imports (it
//   replaces tsc's own, which only re-exports the per-file modules);
// - dist/lazy-bundle.js, what endguard loads on first need (src/lazy-load.ts): src/lazy.ts, except the
//   modules that are already in bundle.js, which it takes from bundle.js's exports
//   (src/internals.ts). One instance of each module, and plain calls between them: a bundler's
//   shared chunk would export them through getters, one call each on every wrapper's hot path.
// require-in-the-middle stays external: it is loaded only when the app first requires a
// patched package.
import { build } from 'rolldown';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC = path.join(ROOT, 'src') + path.sep;
const DIST = path.join(ROOT, 'dist');
const common = {
  tsconfig: path.join(ROOT, 'tsconfig.json'),
  platform: 'node',
  external: [/^node:/, 'require-in-the-middle'],
  logLevel: 'warn',
  // src/lazy-load.ts: which file holds the code loaded on first need
  transform: { define: { ENDGUARD_BUNDLED: 'true' } },
};
// 'use strict' as tsc emits it: in sloppy mode every wrapper's `arguments` is a mapped object, which
// made each response ~100 ns dearer (Node 24, measured in situ)
const output = { format: 'cjs', strict: true, sourcemap: false, comments: { legal: false } };

// chunks of an earlier build layout
for (const file of readdirSync(DIST)) if (file.startsWith('shared-')) rmSync(path.join(DIST, file));

const preload = await build({ ...common, input: path.join(SRC, 'bundle.ts'), output: { ...output, file: path.join(DIST, 'bundle.js') } });
const inPreload = new Set(preload.output[0].moduleIds.filter((id) => id.startsWith(SRC)));
const exported = new Set(preload.output[0].exports);

/** A relative import of one of the preload's modules: taken from dist/bundle.js. */
const fromPreload = {
  name: 'endguard-from-preload',
  resolveId(source, importer) {
    if (importer === undefined || !source.startsWith('.')) return null;
    const base = path.resolve(path.dirname(importer), source);
    const file = [`${base}.ts`, path.join(base, 'index.ts')].find((f) => existsSync(f));
    if (file === undefined || !inPreload.has(file)) return null;
    return { id: './bundle.js', external: true };
  },
};
const lazy = await build({ ...common, input: path.join(SRC, 'lazy.ts'), plugins: [fromPreload], output: { ...output, file: path.join(DIST, 'lazy-bundle.js') } });

// every name lazy-bundle.js reads from bundle.js must be one bundle.js exports (src/internals.ts)
const code = lazy.output[0].code;
const binding = /(?:let|const|var) ([\w$]+) = require\("\.\/bundle\.js"\)/.exec(code)?.[1];
const missing = binding === undefined ? [] : [...new Set([...code.matchAll(new RegExp(`\\b${binding.replace(/\$/g, '\\$')}\\.([\\w$]+)`, 'g'))].map((m) => m[1]))].filter((name) => !exported.has(name));
if (missing.length > 0) {
  console.error(`bundle: lazy-bundle.js takes ${missing.join(', ')} from bundle.js, which does not export them: add their module to src/internals.ts`);
  process.exit(1);
}
