'use strict';
// Production accuracy at a realistic load (issue 12): a server pinned to one core, a fixed
// offered rate (autocannon overallRate, 10 connections), 1 request in 100 a late-callback bug
// on a path of its own (GET /bug/<n>), so that under the armed policy every violation is a
// first occurrence. Per run: the server's own CPU time over the measured window (µs, all
// threads, read through SIGUSR2 → process.cpuUsage()), the requests served, the reports
// published and how many of them carry an end site. Variants alternate in rounds; `bare` runs
// twice per round (bare and bare2): their difference is the noise floor.
//
//   node bench/production.js [--apps=hello,express] [--variants=bare,bare2,armed,always,...]
//        [--rate=1000] [--rounds=4] [--duration=5] [--warmup=2] [--bug-every=100]
const { spawn } = require('node:child_process');
const path = require('node:path');
const autocannon = require('autocannon');
const C = require('./lib/common');
const { variant } = require('./lib/variants');

const SERVER_CPU = 0;
const SERVERS = {
  hello: path.join(__dirname, 'servers', 'prod-hello.js'),
  express: path.join(__dirname, 'servers', 'prod-express.js'),
};
const COUNTER = path.join(__dirname, 'servers', 'count-reports.js');

function variantFor(name) {
  // bare2: a second bare run in each round, the noise floor
  return variant(name === 'bare2' ? 'bare' : name);
}

function startServer(app, name) {
  const v = variantFor(name);
  const counting = name.startsWith('bare') ? [] : ['--require', COUNTER];
  const [cmd, args] = C.nodeCommand([...v.args, ...counting, SERVERS[app]], SERVER_CPU);
  const child = spawn(cmd, args, { cwd: C.ROOT, env: C.cleanEnv(v.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  const waiting = [];
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d) => {
    stdout += d;
    let nl;
    while ((nl = stdout.indexOf('\n')) !== -1) {
      const line = stdout.slice(0, nl);
      stdout = stdout.slice(nl + 1);
      const next = waiting.shift();
      if (next !== undefined) next(JSON.parse(line));
    }
  });
  const nextLine = () => new Promise((resolve) => waiting.push(resolve));
  return nextLine().then(({ port }) => ({
    child,
    port,
    stderr: () => stderr,
    /** The server's own CPU µs so far. */
    cpu: () => {
      const line = nextLine();
      child.kill('SIGUSR2');
      return line.then((m) => m.cpuMicros);
    },
  }));
}

function stopServer(server) {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null) return resolve();
    const timer = setTimeout(() => server.child.kill('SIGKILL'), 5000);
    server.child.on('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    server.child.kill('SIGTERM');
  });
}

let bugCounter = 0;
function load(port, seconds, rate, bugEvery) {
  let n = 0;
  return autocannon({
    url: `http://127.0.0.1:${port}/`,
    connections: 10,
    duration: seconds,
    overallRate: rate,
    requests: [
      {
        setupRequest(request) {
          request.path = ++n % bugEvery === 0 ? `/bug/${++bugCounter}` : '/';
          return request;
        },
      },
    ],
  });
}

async function runOnce(app, name, opts) {
  const server = await startServer(app, name);
  try {
    await load(server.port, opts.warmup, opts.rate, opts.bugEvery);
    const cpu0 = await server.cpu();
    const result = await load(server.port, opts.duration, opts.rate, opts.bugEvery);
    const cpu1 = await server.cpu();
    const seconds = opts.duration;
    await stopServer(server);
    const counted = /\{"benchReports":(\{[^}]*\})\}/.exec(server.stderr());
    const reports = counted === null ? null : JSON.parse(counted[1]);
    return {
      app,
      variant: name,
      cpuMsPerS: (cpu1 - cpu0) / 1000 / seconds,
      reqPerS: result.requests.total / seconds,
      errors: result.errors + result.timeouts,
      reports: reports?.reports ?? 0,
      withEndSite: reports?.withEndSite ?? 0,
    };
  } finally {
    await stopServer(server);
  }
}

async function runProduction(opts, log = () => {}) {
  const runs = [];
  for (let round = 0; round < opts.rounds; round++) {
    for (const app of opts.apps) {
      const order = opts.variants.map((_, i) => opts.variants[(i + round) % opts.variants.length]);
      const line = [];
      for (const name of order) {
        const run = await runOnce(app, name, opts);
        runs.push({ ...run, round });
        line.push(`${name} ${run.cpuMsPerS.toFixed(1)} ms/s`);
      }
      log(`  production ${app} round ${round + 1}/${opts.rounds}: ${line.join(', ')}`);
    }
  }
  return runs;
}

function summarizeProduction(runs, opts) {
  const rows = [];
  for (const app of opts.apps) {
    const bareByRound = new Map();
    for (const r of runs) if (r.app === app && r.variant === 'bare') bareByRound.set(r.round, r.cpuMsPerS);
    for (const name of opts.variants) {
      const mine = runs.filter((r) => r.app === app && r.variant === name);
      const above = mine.map((r) => r.cpuMsPerS - (bareByRound.get(r.round) ?? NaN));
      const reports = mine.reduce((s, r) => s + r.reports, 0);
      const withEnd = mine.reduce((s, r) => s + r.withEndSite, 0);
      rows.push({
        app,
        variant: name,
        cpu: C.median(mine.map((r) => r.cpuMsPerS)),
        above: name === 'bare' ? 0 : C.median(above),
        aboveMin: C.min(above),
        aboveMax: C.max(above),
        reqPerS: C.median(mine.map((r) => r.reqPerS)),
        reports,
        endSiteShare: reports === 0 ? null : withEnd / reports,
        runs: mine.length,
      });
    }
  }
  return rows;
}

function formatProduction(rows, opts) {
  const header = ['app', 'variant', 'req/s', 'server CPU ms/s', 'above bare ms/s (median)', 'min–max', 'reports', 'with end site', 'runs'];
  const body = rows.map((r) => [
    r.app,
    r.variant,
    C.fmt(r.reqPerS),
    C.fmt(r.cpu, 1),
    r.variant === 'bare' ? '–' : C.fmt(r.above, 1),
    r.variant === 'bare' ? '–' : `${C.fmt(r.aboveMin, 1)}–${C.fmt(r.aboveMax, 1)}`,
    r.variant.startsWith('bare') ? '–' : C.fmt(r.reports),
    r.endSiteShare === null ? '–' : `${(r.endSiteShare * 100).toFixed(1)} %`,
    r.runs,
  ]);
  return [
    `## Production: ${opts.rate} req/s offered, 1 in ${opts.bugEvery} a first-occurrence late-callback bug`,
    '',
    C.table(header, body),
  ].join('\n');
}

module.exports = { runProduction, summarizeProduction, formatProduction };

if (require.main === module) {
  const opts = C.readOptions({
    apps: 'hello,express',
    variants: 'bare,bare2,armed,always',
    rate: 1000,
    rounds: 4,
    duration: 5,
    warmup: 2,
    'bug-every': 100,
  });
  const o = {
    apps: String(opts.apps).split(','),
    variants: String(opts.variants).split(','),
    rate: Number(opts.rate),
    rounds: Number(opts.rounds),
    duration: Number(opts.duration),
    warmup: Number(opts.warmup),
    bugEvery: Number(opts['bug-every']),
  };
  C.pinSelf(1);
  runProduction(o, (l) => process.stderr.write(l + '\n'))
    .then((runs) => console.log(formatProduction(summarizeProduction(runs, o), o)))
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
