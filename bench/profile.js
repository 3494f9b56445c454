'use strict';
// Where the agent's time goes: the hello-world (or express) server under a variant with
// --cpu-prof, loaded by autocannon, then the profile summarized: self time per function, and
// the time spent inside endguard's frames (inclusive) per endguard function.
// Usage: node bench/profile.js [--variant=always] [--app=hello] [--duration=10] [--rate=0] [--connections=100]
// --rate: a fixed offered load in req/s (autocannon overallRate), e.g. --rate=1000 --connections=10
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const C = require('./lib/common');
const { startServer, stopServer, load } = require('./http');

const opts = C.readOptions({ variant: 'always', app: 'hello', duration: 10, connections: 100, rate: 0, top: 25 });
const DIST = path.join(C.ROOT, 'dist') + path.sep;

function short(url) {
  if (!url) return '';
  const file = url.startsWith('file://') ? url.slice(7) : url;
  return file.startsWith(C.ROOT) ? path.relative(C.ROOT, file) : file;
}

function analyze(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const counts = new Map();
  const dt = profile.timeDeltas;
  // time per sample: the delta to the next sample
  for (let i = 0; i < profile.samples.length; i++) {
    const t = i + 1 < dt.length ? dt[i + 1] : 0;
    counts.set(profile.samples[i], (counts.get(profile.samples[i]) ?? 0) + t);
  }
  const key = (n) => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const isAgent = (n) => n.callFrame.url.includes(DIST) || n.callFrame.url.includes('/shimmer/');
  const self = new Map();
  const agentInclusive = new Map();
  let total = 0;
  let idle = 0;
  let inAgent = 0;
  for (const [id, us] of counts) {
    const n = nodes.get(id);
    total += us;
    const name = n.callFrame.functionName;
    if (name === '(idle)') idle += us;
    self.set(key(n), (self.get(key(n)) ?? 0) + us);
    // inclusive: every distinct agent frame on this sample's stack gets the sample once
    const seen = new Set();
    let outermost = null;
    for (let cur = n; cur !== undefined; cur = nodes.get(parent.get(cur.id))) {
      if (isAgent(cur)) {
        seen.add(key(cur));
        outermost = cur;
      }
    }
    if (outermost !== null) {
      // time under an agent wrapper, minus the original method it calls (not the agent's cost):
      // count a sample only when its leaf is an agent frame or a helper the agent called
      // (captureStackTrace, executionAsyncId, defineProperty are attributed to the caller or appear as natives)
      let leafIsOriginal = false;
      for (let cur = n; cur !== undefined && !isAgent(cur); cur = nodes.get(parent.get(cur.id))) {
        const f = cur.callFrame;
        // Node's own stream/http code reached from inside a wrapper is the original's work
        if (f.url.startsWith('node:') && f.url !== 'node:async_hooks' && f.url !== 'node:internal/async_hooks') leafIsOriginal = true;
      }
      if (!leafIsOriginal) {
        inAgent += us;
        for (const k of seen) agentInclusive.set(k, (agentInclusive.get(k) ?? 0) + us);
      }
    }
  }
  const busy = total - idle;
  const topSelf = [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, Number(opts.top));
  const topAgent = [...agentInclusive].sort((a, b) => b[1] - a[1]).slice(0, Number(opts.top));
  return { total, idle, busy, inAgent, topSelf, topAgent };
}

async function main() {
  C.pinSelf(1);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'endguard-prof-'));
  const server = await startServer(opts.app, opts.variant, ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '100']);
  await load(server.port, 2, Number(opts.connections), Number(opts.rate)); // warm-up
  const result = await load(server.port, Number(opts.duration), Number(opts.connections), Number(opts.rate));
  await stopServer(server);
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no profile written');
  const profile = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  const a = analyze(profile);
  const requests = result.requests.total;
  const pct = (us) => ((us / a.busy) * 100).toFixed(1) + '%';
  const perReq = (us) => (us / requests).toFixed(2);
  console.log(`${opts.app} / ${opts.variant}: ${C.fmt(result.requests.total / (Number(opts.duration)))} req/s during the profile (profiling slows it down)`);
  console.log(`busy ${(a.busy / 1e6).toFixed(2)} s, idle ${(a.idle / 1e6).toFixed(2)} s; in endguard frames ${pct(a.inAgent)} of busy = ${perReq(a.inAgent)} µs/req (incl. the profile's own overhead)\n`);
  console.log('Top self time (all code):');
  console.log(C.table(['function', 'self %', 'µs/req'], a.topSelf.map(([k, us]) => [k, pct(us), perReq(us)])));
  console.log('\nendguard functions, inclusive (minus the original methods they call):');
  console.log(C.table(['function', 'incl %', 'µs/req'], a.topAgent.map(([k, us]) => [k, pct(us), perReq(us)])));
  console.log(`\nprofile: ${path.join(dir, file)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
