'use strict';
// Primitive costs measured inside a loaded hello-world server (no agent): see micro/costs-server.js.
const http = require('node:http');
const C = require('./lib/common');
const { startServer, stopServer, load } = require('./http');

function get(port, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

async function runCosts(seconds, rounds = 1) {
  const runs = [];
  for (let r = 0; r < rounds; r++) {
    const server = await startServer('costs', 'bare');
    try {
      await load(server.port, 2, 100);
      await get(server.port, '/reset');
      await load(server.port, seconds, 100);
      runs.push(JSON.parse(await get(server.port, '/results')));
    } finally {
      await stopServer(server);
    }
  }
  const names = Object.keys(runs[0]);
  const noop = C.median(runs.map((r) => r['noop (timer overhead)']));
  return names.map((name) => {
    const values = runs.map((r) => r[name]);
    return { name, ns: C.median(values) - (name.startsWith('noop') ? 0 : noop), min: C.min(values) - noop, max: C.max(values) - noop, runs: values.length };
  });
}

function formatCosts(rows) {
  return C.table(
    ['primitive, at res.end() in a loaded server', 'median ns per call (− timer)', 'min–max', 'runs'],
    rows.map((r) => [r.name, C.fmt(r.ns), `${C.fmt(r.min)}–${C.fmt(r.max)}`, r.runs]),
  );
}

module.exports = { runCosts, formatCosts };

if (require.main === module) {
  C.pinSelf(1);
  runCosts(Number(process.argv[2] || 5), Number(process.argv[3] || 1)).then((rows) => console.log(formatCosts(rows)));
}

/**
 * The agent's direct cost per response, wrapped vs original methods, in one server per run:
 * at saturation (100 connections) and at a fixed 1,000 req/s (10 connections), where a
 * capture costs more per response (colder caches between requests).
 */
async function runWrapperCost(seconds, rounds, apps = ['hello', 'express'], variants = ['production', 'armed', 'always'], rates = [0, 1000]) {
  const rows = [];
  for (const rate of rates) for (const app of apps) for (const v of variants) {
    const runs = [];
    const connections = rate > 0 ? 10 : 100;
    for (let r = 0; r < rounds; r++) {
      const server = await startServer('wrapper', v, [], { BENCH_WRAPPER_APP: app });
      try {
        await load(server.port, 2, connections, rate);
        await get(server.port, '/reset');
        await load(server.port, seconds, connections, rate);
        const res = JSON.parse(await get(server.port, '/results'));
        if (!res.patched) throw new Error('wrapper bench: http not patched: ' + JSON.stringify(res) + server.stderr());
        runs.push(res);
      } finally {
        await stopServer(server);
      }
    }
    const diff = runs.map((x) => x.wrappedNs - x.originalNs);
    rows.push({
      app,
      load: rate > 0 ? `${rate} req/s` : 'saturation',
      variant: v,
      originalNs: C.median(runs.map((x) => x.originalNs)),
      wrappedNs: C.median(runs.map((x) => x.wrappedNs)),
      diffNs: C.median(diff),
      min: C.min(diff),
      max: C.max(diff),
      runs: runs.length,
    });
  }
  return rows;
}

/** bareCpu: app → bare server CPU µs/request (from the HTTP section), for the estimated ratio. */
function formatWrapperCost(rows, bareCpu = {}) {
  return C.table(
    ['app', 'load', 'variant', 'response call, originals median ns', 'through the agent ns', 'agent ns/response', 'min–max', 'bare CPU µs/req', 'est. ratio', 'runs'],
    rows.map((r) => [
      r.app,
      r.load,
      r.variant,
      C.fmt(r.originalNs),
      C.fmt(r.wrappedNs),
      C.fmt(r.diffNs),
      `${C.fmt(r.min)}–${C.fmt(r.max)}`,
      bareCpu[r.app] && r.load === 'saturation' ? bareCpu[r.app].toFixed(1) : '–',
      bareCpu[r.app] && r.load === 'saturation' ? (bareCpu[r.app] / (bareCpu[r.app] + r.diffNs / 1000)).toFixed(3) : '–',
      r.runs,
    ]),
  );
}

module.exports.runWrapperCost = runWrapperCost;
module.exports.formatWrapperCost = formatWrapperCost;
