#!/usr/bin/env node
// After tsc: bundles the agent from its TypeScript sources into dist/ (tsc has type-checked
// them): dist/bundle.js, what the preload loads, and dist/lazy.js, what endguard loads only
// when needed (src/lazy-load.ts), plus the chunk of modules both share (one instance each).
// They replace tsc's own dist/bundle.js and dist/lazy.js, which only re-export the per-file
// modules: without this step dist/ still works, unbundled. require-in-the-middle stays
// external: it is loaded only when the app first requires a patched package.
import { build } from 'rolldown';
import { readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const CHUNK_PREFIX = 'shared-';

for (const file of readdirSync(DIST)) if (file.startsWith(CHUNK_PREFIX)) rmSync(path.join(DIST, file));

await build({
  input: { bundle: path.join(ROOT, 'src', 'bundle.ts'), lazy: path.join(ROOT, 'src', 'lazy.ts') },
  tsconfig: path.join(ROOT, 'tsconfig.json'),
  platform: 'node',
  external: [/^node:/, 'require-in-the-middle'],
  logLevel: 'warn',
  output: {
    dir: DIST,
    format: 'cjs',
    entryFileNames: '[name].js',
    chunkFileNames: `${CHUNK_PREFIX}[hash].js`,
    sourcemap: false,
    comments: { legal: false },
  },
});
