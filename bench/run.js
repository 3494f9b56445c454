'use strict';
// `npm run bench` (quick, ~2 min) or `npm run bench -- --full` (~15 min).
// Sections (--only=a,b): http wrapper cycle webstream report memory startup costs ablation.
// Options: --name=value or BENCH_NAME=value; see README in docs/performance.md.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const C = require('./lib/common');
const { runHttp, summarize, formatHttp } = require('./http');
const { runCycle, runWebCycle, runReport, runMemory, formatCycle, formatReport, formatMemory } = require('./micro');
const { runStartup, formatStartup } = require('./startup');
const { runCosts, formatCosts, runWrapperCost, formatWrapperCost } = require('./costs');
const { runProduction, summarizeProduction, formatProduction } = require('./production');

const opts = C.readOptions({
  only: { quick: 'production,http,wrapper,cycle,webstream,report,memory,startup', full: 'production,http,wrapper,cycle,webstream,report,memory,startup,costs' },
  rounds: { quick: 2, full: 8 },
  duration: { quick: 2, full: 4 },
  warmup: { quick: 1, full: 1.5 },
  connections: 100,
  apps: 'hello,express',
  variants: 'bare,production,armed,always,enforce,otel',
  'production-rate': 1000,
  'production-rounds': { quick: 2, full: 4 },
  'production-duration': { quick: 3, full: 5 },
  'production-variants': 'bare,bare2,production,armed,always',
  'bug-every': 100,
  'micro-rounds': { quick: 3, full: 7 },
  'micro-ms': { quick: 1000, full: 2000 },
  'cycle-variants': { quick: 'bare,armed,always', full: 'bare,nullwrap,armed,always,always-nocapture' },
  'report-iterations': { quick: 1000, full: 3000 },
  'memory-rounds': { quick: 1, full: 3 },
  'memory-streams': 20000,
  'startup-runs': { quick: 20, full: 60 },
  'ablation-variants': 'bare,nullwrap,armed,always,always-nocapture,armed-noasyncid',
  out: '',
});
const sections = new Set(String(opts.only).split(','));
const httpOpts = {
  rounds: Number(opts.rounds),
  duration: Number(opts.duration),
  warmup: Number(opts.warmup),
  connections: Number(opts.connections),
  apps: String(opts.apps).split(','),
  variants: String(opts.variants).split(','),
};
const microOpts = {
  microRounds: Number(opts['micro-rounds']),
  microMs: Number(opts['micro-ms']),
  cycleVariants: String(opts['cycle-variants']).split(','),
  reportIterations: Number(opts['report-iterations']),
  memoryRounds: Number(opts['memory-rounds']),
  memoryStreams: Number(opts['memory-streams']),
};

function log(line) {
  process.stderr.write(line + '\n');
}

function agentBuild() {
  const { spawnSync } = require('node:child_process');
  const git = (...args) => spawnSync('git', args, { cwd: C.ROOT, encoding: 'utf8' }).stdout.trim();
  let distTime = '?';
  try {
    distTime = fs.statSync(path.join(C.ROOT, 'dist', 'bootstrap.js')).mtime.toISOString();
  } catch {
    // no build
  }
  const dirty = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length;
  return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ` + ${dirty} uncommitted src file(s)` : ''}, dist built ${distTime}`;
}

function machine() {
  const cpus = os.cpus();
  let load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  return {
    node: process.version,
    nodePath: process.execPath,
    cpu: `${cpus.length} × ${cpus[0]?.model ?? '?'}`,
    memGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    kernel: `${os.type()} ${os.release()}`,
    taskset: C.hasTaskset() ? 'server/children on CPU 0, load generator on CPU 1' : 'no (unpinned)',
    loadavgAtStart: load,
    agent: agentBuild(),
  };
}

async function main() {
  if (!process.version.startsWith('v24')) log(`note: running on ${process.version}; the documented figures are Node 24 (npm run bench uses node_modules/.bin/node)`);
  const pinned = C.pinSelf(1);
  const info = machine();
  const started = new Date();
  log(`endguard bench (${opts.profile}) on ${info.node}, ${info.cpu}, pinned: ${pinned ? 'yes' : 'no'}, load ${info.loadavgAtStart}`);
  const result = { profile: opts.profile, started: started.toISOString(), machine: info, options: { ...httpOpts, ...microOpts } };
  const out = [];

  if (sections.has('production')) {
    const production = {
      apps: httpOpts.apps,
      variants: String(opts['production-variants']).split(','),
      rate: Number(opts['production-rate']),
      rounds: Number(opts['production-rounds']),
      duration: Number(opts['production-duration']),
      warmup: 2,
      bugEvery: Number(opts['bug-every']),
    };
    log(`production: ${production.rounds} rounds × ${production.variants.join(', ')}, ${production.rate} req/s offered, 1 in ${production.bugEvery} a first-occurrence bug`);
    const raw = await runProduction(production, log);
    result.production = { raw, rows: summarizeProduction(raw, production), options: production };
    out.push(formatProduction(result.production.rows, production));
  }
  if (sections.has('http')) {
    log(`HTTP: ${httpOpts.rounds} rounds × ${httpOpts.variants.length} variants × ${httpOpts.apps.join('+')}, ${httpOpts.duration}s (+${httpOpts.warmup}s warm-up), ${httpOpts.connections} connections`);
    const raw = await runHttp(httpOpts, log);
    result.http = { raw, rows: summarize(raw, httpOpts.variants) };
    out.push('## HTTP throughput\n\n' + formatHttp(result.http.rows));
  }
  if (sections.has('wrapper')) {
    log('agent wrapper cost per response, wrapped vs original in one server');
    const full = opts.profile === 'full';
    result.wrapper = await runWrapperCost(full ? 5 : 3, full ? 3 : 1);
    const bareCpu = {};
    for (const r of result.http?.rows ?? []) if (r.variant === 'bare') bareCpu[r.app] = r.cpuPerReq;
    out.push('## Agent cost per response, in situ (wrapped vs original methods, same server)\n\n' + formatWrapperCost(result.wrapper, bareCpu));
  }
  if (sections.has('ablation')) {
    // what each piece of the agent costs on the hello-world server (bench/ablate.js)
    const ablation = { ...httpOpts, apps: ['hello'], variants: String(opts['ablation-variants']).split(',') };
    log(`HTTP ablation: ${ablation.rounds} rounds × ${ablation.variants.join(', ')}`);
    const raw = await runHttp(ablation, log);
    result.ablation = { raw, rows: summarize(raw, ablation.variants) };
    out.push('## HTTP ablation (hello-world)\n\n' + formatHttp(result.ablation.rows));
  }
  if (sections.has('cycle')) {
    log(`micro cycle: ${microOpts.microRounds} rounds, ${microOpts.microMs} ms per child`);
    result.cycle = await runCycle(microOpts, log);
    out.push('## Micro: stream cycle\n\n' + formatCycle(result.cycle));
  }
  if (sections.has('webstream')) {
    log(`micro web stream cycle: ${microOpts.microRounds} rounds, ${microOpts.microMs} ms per child`);
    result.webstream = await runWebCycle(microOpts, log);
    out.push('## Micro: web stream cycle (next to the Writable cycle)\n\n' + formatCycle(result.webstream));
  }
  if (sections.has('report')) {
    log(`micro report: ${microOpts.microRounds} rounds × ${microOpts.reportIterations} late writes`);
    result.report = await runReport(microOpts, log);
    out.push('## Micro: one violation report\n\n' + formatReport(result.report));
  }
  if (sections.has('memory')) {
    log(`memory: ${microOpts.memoryRounds} rounds × ${microOpts.memoryStreams} streams`);
    result.memory = await runMemory(microOpts, log);
    out.push('## Memory\n\n' + formatMemory(result.memory));
  }
  if (sections.has('startup')) {
    const runs = Number(opts['startup-runs']);
    log(`startup: ${runs} alternating runs per command`);
    result.startup = runStartup(runs, 0);
    out.push('## Startup\n\n' + formatStartup(result.startup));
  }
  if (sections.has('costs')) {
    log('primitive costs inside a loaded server (no agent)');
    result.costs = await runCosts(opts.profile === 'full' ? 6 : 3, opts.profile === 'full' ? 3 : 1);
    out.push('## Primitive costs at res.end() in a loaded hello-world server\n\n' + formatCosts(result.costs));
  }
  result.finished = new Date().toISOString();
  result.machine.loadavgAtEnd = os.loadavg().map((x) => x.toFixed(2)).join(' ');

  const header = `endguard bench (${opts.profile}) ${result.started} → ${result.finished}\n` +
    `Node ${info.node} · ${info.cpu} · ${info.memGiB} GiB · ${info.kernel}\n` +
    `agent: ${info.agent}\n` +
    `pinning: ${info.taskset} · load average ${info.loadavgAtStart} → ${result.machine.loadavgAtEnd}\n`;
  console.log(header + '\n' + out.join('\n\n'));

  const file = opts.out || path.join(__dirname, 'results', `${opts.profile}-latest.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  log(`raw results: ${path.relative(process.cwd(), file)}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
