// The agent's module graph, reached by every entry through this one module: the build replaces
// dist/bundle.js with a single-file bundle of it (scripts/bundle.mjs), so the preload loads one
// file instead of thirty, and `--require`, `--import` and `import 'endguard'` share one instance.
export { startAgent, stopAgent } from './agent';
export { VIOLATION_CHANNEL } from './channels';
export { tracerProviderRegistered } from './report/otel';
