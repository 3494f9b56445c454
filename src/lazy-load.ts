import * as path from 'node:path';

// endguard's code that runs only at a violation (report building, the pretty log, the
// OpenTelemetry attributes) or once the app uses a family (http, web streams, a patched
// package) lives in lazy.ts, loaded on first need: the preload compiles a third of the code.
// The path is computed, so the bundler leaves it a separate file (dist/lazy.js, sharing the
// preload's modules); this file stays at the top level of src/ (dist/ either way).

type Lazy = typeof import('./lazy');
let loaded: Lazy | undefined;

export function lazy(): Lazy {
  return (loaded ??= require(path.join(__dirname, 'lazy.js')) as Lazy);
}
