'use strict';
// Bench-only preload: the agent from tsc's per-file output (dist/agent.js) instead of the
// bundle register.cjs loads, so that a bench helper loaded after it (ablate.js, unwrap.js,
// micro/report.js) reaches the running agent's own modules. Same code; only the module
// boundaries differ.
require('../dist/agent.js').startAgent();
