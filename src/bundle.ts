// The agent's module graph, reached by every entry through this one module (register.cjs,
// register.mjs, index.ts, otel-entry.ts): the build replaces dist/bundle.js with a bundle of it
// (scripts/bundle.mjs), so the preload loads two files instead of forty, and `--require`,
// `--import` and `import 'endguard'` share one instance.
export { startAgent, stopAgent } from './agent';
export { preload } from './bootstrap';
export { VIOLATION_CHANNEL } from './channels';
export { tracerProviderRegistered } from './report/otel';

// the modules dist/lazy.js shares with the preload (internals.ts)
export * from './internals';
