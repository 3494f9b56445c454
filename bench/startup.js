'use strict';
// Startup: `node -e 0` against `node -r ./register.cjs -e 0` (and --import ./register.mjs),
// alternating, wall-clock per spawn (spawnSync, so it includes process creation for both).
const { spawnSync } = require('node:child_process');
const C = require('./lib/common');

const VARIANTS = {
  'node -e 0': [],
  'node -r ./register.cjs -e 0': ['--require', C.REGISTER_CJS],
  'node --import ./register.mjs -e 0': ['--import', C.REGISTER_MJS],
};

function runStartup(runs, cpu) {
  const names = Object.keys(VARIANTS);
  const times = Object.fromEntries(names.map((n) => [n, []]));
  const env = C.cleanEnv({});
  for (let i = 0; i < runs + 3; i++) {
    const order = names.map((_, k) => names[(k + i) % names.length]);
    for (const name of order) {
      const [cmd, args] = C.nodeCommand([...VARIANTS[name], '-e', '0'], cpu);
      const t0 = process.hrtime.bigint();
      const r = spawnSync(cmd, args, { env, stdio: 'ignore' });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0) throw new Error(`${name} exited ${r.status}`);
      if (i >= 3) times[name].push(ms); // the first rounds warm the page cache
    }
  }
  const bare = C.median(times[names[0]]);
  return names.map((name) => ({
    command: name,
    median: C.median(times[name]),
    delta: C.median(times[name]) - bare,
    min: C.min(times[name]),
    max: C.max(times[name]),
    runs: times[name].length,
  }));
}

function formatStartup(rows) {
  return C.table(
    ['command', 'median ms', 'Δ vs node -e 0 ms', 'min–max ms', 'runs'],
    rows.map((r) => [r.command, r.median.toFixed(1), r.delta.toFixed(1), `${r.min.toFixed(1)}–${r.max.toFixed(1)}`, r.runs]),
  );
}

module.exports = { runStartup, formatStartup };

if (require.main === module) console.log(formatStartup(runStartup(Number(process.argv[2] || 30), 0)));
