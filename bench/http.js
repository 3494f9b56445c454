'use strict';
// HTTP throughput: autocannon (in this process, pinned to CPU 1) against a server child
// (pinned to CPU 0), variants alternating in rounds, a fresh server per run.
const { spawn } = require('node:child_process');
const path = require('node:path');
const autocannon = require('autocannon');
const C = require('./lib/common');
const { variant } = require('./lib/variants');

const SERVER_CPU = 0;
const SERVERS = {
  hello: path.join(__dirname, 'servers', 'hello.js'),
  express: path.join(__dirname, 'servers', 'express.js'),
  costs: path.join(__dirname, 'micro', 'costs-server.js'),
  wrapper: path.join(__dirname, 'micro', 'wrapper-server.js'),
};

function startServer(app, variantName, extraArgs = [], extraEnv = {}) {
  const v = variant(variantName);
  const [cmd, args] = C.nodeCommand([...v.args, ...extraArgs, SERVERS[app]], SERVER_CPU);
  const child = spawn(cmd, args, {
    cwd: C.ROOT,
    env: C.cleanEnv({ ...v.env, ...extraEnv }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl === -1) return;
      child.stdout.off('data', onData);
      try {
        const { port } = JSON.parse(out.slice(0, nl));
        resolve({ child, port, stderr: () => stderr });
      } catch (e) {
        reject(e);
      }
    };
    child.stdout.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${app}/${variantName} server exited ${code}: ${stderr.slice(-2000)}`)));
  });
}

function stopServer(server) {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null) return resolve();
    const timer = setTimeout(() => server.child.kill('SIGKILL'), 5000);
    server.child.removeAllListeners('exit');
    server.child.on('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    server.child.kill('SIGTERM');
  });
}

/** `rate` (requests per second across all connections): a fixed offered load; 0 saturates. */
function load(port, seconds, connections, rate = 0) {
  return autocannon({
    url: `http://127.0.0.1:${port}/`,
    connections,
    duration: seconds,
    pipelining: 1,
    ...(rate > 0 ? { overallRate: rate } : {}),
  });
}

/** One run: fresh server, warm-up, measured load with the server's CPU time around it. */
async function runOnce(app, variantName, opts) {
  const server = await startServer(app, variantName);
  try {
    if (opts.warmup > 0) await load(server.port, opts.warmup, opts.connections);
    const cpu0 = C.cpuMicros(server.child.pid);
    const result = await load(server.port, opts.duration, opts.connections);
    const cpu1 = C.cpuMicros(server.child.pid);
    const requests = result.requests.total;
    const bad = result.errors + result.timeouts + result.non2xx;
    if (bad > 0) throw new Error(`${app}/${variantName}: ${bad} errors/timeouts/non-2xx`);
    const stderr = server.stderr();
    if (stderr.trim() !== '') process.stderr.write(`[${app}/${variantName} stderr] ${stderr.slice(0, 500)}\n`);
    return {
      rps: requests / opts.duration,
      cpuPerReq: cpu0 !== null && cpu1 !== null ? (cpu1 - cpu0) / requests : null,
      latencyP50: result.latency.p50,
      latencyP99: result.latency.p99,
    };
  } finally {
    await stopServer(server);
  }
}

/**
 * Alternating rounds: round r runs the variants in order rotated by r (A B C, B C A, …), so
 * neither slow drift nor the position in a round favours a variant.
 */
async function runHttp(opts, log = console.log) {
  const results = {};
  for (const app of opts.apps) {
    results[app] = {};
    for (const v of opts.variants) results[app][v] = [];
    for (let round = 0; round < opts.rounds; round++) {
      const order = opts.variants.map((_, i) => opts.variants[(i + round) % opts.variants.length]);
      const parts = [];
      for (const v of order) {
        const r = await runOnce(app, v, opts);
        results[app][v].push(r);
        parts.push(`${v} ${C.fmt(r.rps)}`);
      }
      log(`  ${app} round ${round + 1}/${opts.rounds}: ${parts.join(', ')}`);
    }
  }
  return results;
}

function summarize(results, variants) {
  const rows = [];
  for (const [app, byVariant] of Object.entries(results)) {
    const bare = C.median(byVariant.bare?.map((r) => r.rps) ?? []);
    const bareCpu = C.median(byVariant.bare?.map((r) => r.cpuPerReq).filter((x) => x !== null) ?? []);
    const bareRuns = byVariant.bare?.map((r) => r.rps) ?? [];
    for (const v of variants) {
      const runs = byVariant[v];
      if (!runs || runs.length === 0) continue;
      const rps = runs.map((r) => r.rps);
      const cpu = runs.map((r) => r.cpuPerReq).filter((x) => x !== null);
      const med = C.median(rps);
      // per-round ratio (same round = closest in time) as a second view of the noise
      const paired = bareRuns.length === rps.length ? rps.map((x, i) => x / bareRuns[i]) : [];
      rows.push({
        app,
        variant: v,
        rps: med,
        ratio: med / bare,
        pairedMin: paired.length ? C.min(paired) : NaN,
        pairedMax: paired.length ? C.max(paired) : NaN,
        cpuPerReq: C.median(cpu),
        // throughput ratio if the server were CPU-bound on its own core: bare CPU/req ÷ variant CPU/req
        cpuRatio: bareCpu / C.median(cpu),
        // other processes only ever slow a run down: the best run of each variant is the one
        // least disturbed, so best-vs-best is a second, interference-resistant view
        bestRatio: C.max(rps) / C.max(bareRuns),
        bestCpuRatio: C.min(byVariant.bare?.map((r) => r.cpuPerReq) ?? []) / C.min(cpu),
        min: C.min(rps),
        max: C.max(rps),
        spread: C.spreadPct(rps),
        p99: C.median(runs.map((r) => r.latencyP99)),
        runs: rps.length,
      });
    }
  }
  return rows;
}

function formatHttp(rows) {
  return C.table(
    ['app', 'variant', 'median req/s', 'ratio', 'best-run ratio', 'per-round ratio min–max', 'server CPU µs/req', 'CPU ratio', 'best CPU ratio', 'min–max req/s', 'spread ±%', 'p99 ms', 'runs'],
    rows.map((r) => [
      r.app,
      r.variant,
      C.fmt(r.rps),
      r.ratio.toFixed(3),
      r.bestRatio === undefined ? '–' : r.bestRatio.toFixed(3),
      Number.isNaN(r.pairedMin) ? '–' : `${r.pairedMin.toFixed(3)}–${r.pairedMax.toFixed(3)}`,
      C.fmt(r.cpuPerReq, 1),
      Number.isNaN(r.cpuRatio) ? '–' : r.cpuRatio.toFixed(3),
      r.bestCpuRatio === undefined || Number.isNaN(r.bestCpuRatio) ? '–' : r.bestCpuRatio.toFixed(3),
      `${C.fmt(r.min)}–${C.fmt(r.max)}`,
      r.spread.toFixed(1),
      C.fmt(r.p99, 0),
      r.runs,
    ]),
  );
}

module.exports = { runHttp, summarize, formatHttp, startServer, stopServer, load };

if (require.main === module) {
  const opts = C.readOptions({
    rounds: { quick: 2, full: 6 },
    duration: { quick: 3, full: 10 },
    warmup: { quick: 1, full: 3 },
    connections: 100,
    apps: 'hello,express',
    variants: 'bare,armed,always,enforce,otel',
  });
  opts.rounds = Number(opts.rounds);
  opts.duration = Number(opts.duration);
  opts.warmup = Number(opts.warmup);
  opts.connections = Number(opts.connections);
  opts.apps = String(opts.apps).split(',');
  opts.variants = String(opts.variants).split(',');
  C.pinSelf(1);
  runHttp(opts).then((results) => console.log(formatHttp(summarize(results, opts.variants))));
}
