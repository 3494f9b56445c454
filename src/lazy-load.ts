import * as path from 'node:path';

// endguard's code that runs only at a violation (report building, the pretty log, the
// OpenTelemetry attributes) or once the app uses a family (http, web streams, a patched
// package) lives in lazy.ts, loaded on first need: the preload compiles half of the code.
// Bundled (scripts/bundle.mjs) it is dist/lazy-bundle.js, which takes the preload's own
// modules from dist/bundle.js; unbundled (tsc's per-file output alone) it is dist/lazy.js.
// The path is computed, so the bundler leaves it a file of its own; this file stays at the
// top level of src/ (dist/ as __dirname either way).

/** Set to true by the bundler (scripts/bundle.mjs); undeclared in tsc's own output. */
declare const ENDGUARD_BUNDLED: boolean | undefined;

type Lazy = typeof import('./lazy');
let loaded: Lazy | undefined;

export function lazy(): Lazy {
  const file = typeof ENDGUARD_BUNDLED === 'boolean' && ENDGUARD_BUNDLED ? 'lazy-bundle.js' : 'lazy.js';
  return (loaded ??= require(path.join(__dirname, file)) as Lazy);
}
