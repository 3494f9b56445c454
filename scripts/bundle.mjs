#!/usr/bin/env node
// After tsc: replaces dist/bundle.js (tsc's re-exports of the agent's modules) with one file
// holding the whole module graph, so the preload compiles one file instead of thirty
// (startup, docs/performance.md). require-in-the-middle stays external: it is loaded only when
// the app first requires a patched package. Without this step dist/ still works, unbundled.
import { build } from 'rolldown';
import { renameSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const target = path.join(ROOT, 'dist', 'bundle.js');
const temp = path.join(ROOT, 'dist', 'bundle.tmp.js');

// from the TypeScript sources (tsc has type-checked them): one module graph, without the
// per-file CommonJS interop helpers tsc's output repeats
await build({
  input: path.join(ROOT, 'src', 'bundle.ts'),
  tsconfig: path.join(ROOT, 'tsconfig.json'),
  platform: 'node',
  external: [/^node:/, 'require-in-the-middle'],
  logLevel: 'warn',
  output: { file: temp, format: 'cjs', sourcemap: false, comments: { legal: false } },
});
renameSync(temp, target);
