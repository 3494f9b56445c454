#!/usr/bin/env node
// `npm run test:stress`: flood and soak through a real server with endguard preloaded
// (test/fixtures/stress/server.js, --expose-gc, observe mode, ENDGUARD_LOG=json). Not part of
// `npm test` (about 1.5 minutes). Prints the figures as markdown and exits 1 when a bound fails.
//
// flood: autocannon drives GET /flood at FLOOD_RATE requests/s (default 1000) for FLOOD_SECONDS
//        (10); each request makes LATE_PER_REQUEST (10) late writes from distinct call sites,
//        i.e. ~10,000 violations/s. Bounds:
//        - log lines ≤ rateLimit × (seconds + 1) (token bucket: burst rateLimit, refill rateLimit/s),
//          and ≤ 2 × rateLimit in any 1 s window of arrival;
//        - heap after GC grows by ≤ FLOOD_HEAP_MARGIN_MB (default 4 MB) over the warmed-up baseline;
//        - /health answered (≤ 1 s) at least 95% of the probes during the flood, and after it.
// soak:  SOAK_REQUESTS (200,000) clean requests (GET /clean, a quarter piped from a Readable);
//        heap after GC at 20,000 (warm) vs at the end grows by ≤ SOAK_HEAP_MARGIN_MB (default
//        2 MB); no sampled response (every 1000th) is still alive after GC.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const autocannon = require('autocannon');

const env = (name, fallback) => Number(process.env[name] ?? fallback);
const FLOOD_SECONDS = env('FLOOD_SECONDS', 10);
const FLOOD_RATE = env('FLOOD_RATE', 1000);
const LATE_PER_REQUEST = env('LATE_PER_REQUEST', 10);
const RATE_LIMIT = env('ENDGUARD_RATE_LIMIT', 10);
const SOAK_REQUESTS = env('SOAK_REQUESTS', 200_000);
const FLOOD_HEAP_MARGIN_MB = env('FLOOD_HEAP_MARGIN_MB', 4);
const SOAK_HEAP_MARGIN_MB = env('SOAK_HEAP_MARGIN_MB', 2);
const CONNECTIONS = env('STRESS_CONNECTIONS', 10);
const only = process.argv[2]; // 'flood' | 'soak' | undefined (both)

const MB = 1024 * 1024;
const mb = (bytes) => (bytes / MB).toFixed(2);

function startServer(preload, extraEnv = {}) {
  const childEnv = { ...process.env, ENDGUARD_LOG: 'json', ENDGUARD_MODE: 'observe', ENDGUARD_RATE_LIMIT: String(RATE_LIMIT), LATE_PER_REQUEST: String(LATE_PER_REQUEST), ...extraEnv };
  delete childEnv.NODE_OPTIONS;
  const args = ['--expose-gc', ...(preload ? ['--require', path.join(ROOT, 'register.cjs')] : []), path.join(ROOT, 'test', 'fixtures', 'stress', 'server.js')];
  const child = spawn(process.execPath, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = []; // arrival times of endguard report lines
  const other = [];
  let buffer = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    buffer += chunk;
    let i;
    while ((i = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      if (line.startsWith('{"endguard":1')) lines.push(Date.now());
      else if (line.trim() !== '') other.push(line);
    }
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => reject(new Error(`server exited early (${code ?? signal}): ${other.join('\n')}`)));
    child.stdout.once('data', (d) => {
      const { port } = JSON.parse(String(d).split('\n')[0]);
      child.removeAllListeners('exit');
      resolve({ child, port, lines, other });
    });
  });
}

function get(port, urlPath, timeoutMs = 5000) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: e.message }));
  });
}

async function heap(port, since = 0, until = Date.now() + 3_600_000) {
  const r = await get(port, `/heap?since=${since}&until=${until}`, 30_000);
  if (r.error) throw new Error(`/heap: ${r.error}`);
  return JSON.parse(r.body);
}

function cannon(opts) {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ connections: CONNECTIONS, pipelining: 1, ...opts }, (err, result) => (err ? reject(err) : resolve(result)));
    void instance;
  });
}

async function stop(child) {
  child.kill('SIGTERM');
  await new Promise((r) => {
    const t = setTimeout(() => (child.kill('SIGKILL'), r()), 5000);
    child.on('exit', () => (clearTimeout(t), r()));
  });
}

const results = { ok: true, lines: [] };
function check(name, pass, detail) {
  results.lines.push(`| ${name} | ${detail} | ${pass ? 'pass' : 'FAIL'} |`);
  if (!pass) results.ok = false;
}

async function flood() {
  const server = await startServer(true);
  const { port } = server;
  // warm up: JIT, the agent's bounded maps, the log's token bucket
  await cannon({ url: `http://127.0.0.1:${port}/flood`, amount: 5000, overallRate: FLOOD_RATE });
  await new Promise((r) => setTimeout(r, 1500));
  const before = await heap(port);
  const linesBefore = server.lines.length;
  // a probe: /health every 100 ms during the flood
  let probes = 0;
  let answered = 0;
  let worst = 0;
  let probing = true;
  const prober = (async () => {
    while (probing) {
      const t = Date.now();
      const r = await get(port, '/health', 1000);
      probes++;
      if (r.status === 200 && r.body === 'ok') answered++;
      worst = Math.max(worst, Date.now() - t);
      await new Promise((res) => setTimeout(res, 100));
    }
  })();
  const floodStart = Date.now();
  const result = await cannon({ url: `http://127.0.0.1:${port}/flood`, duration: FLOOD_SECONDS, overallRate: FLOOD_RATE });
  const floodEnd = Date.now();
  probing = false;
  await prober;
  await new Promise((r) => setTimeout(r, 1200)); // let the last lines arrive
  // log lines written (timestamped at write time in the server) from the flood's start to 1 s after its end
  const after = await heap(port, floodStart, floodEnd + 1000);
  const health = await get(port, '/health', 2000);
  await stop(server.child);

  const seconds = (floodEnd - floodStart) / 1000;
  const floodLines = { length: after.log.lines };
  const maxWindow = after.log.maxWindow;
  const received = server.lines.length - linesBefore;
  const violations = after.lateWrites - before.lateWrites;
  const perSecond = violations / seconds;
  // the window measured is the flood plus 1 s after it
  const bound = RATE_LIMIT * (Math.ceil(seconds + 1) + 1);
  const growth = after.heapUsed - before.heapUsed;
  console.log(`flood: ${result.requests.total} requests in ${seconds.toFixed(1)} s (${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts), ` +
    `${violations} late writes = ${Math.round(perSecond)}/s, ${after.published - before.published} reports published (agent budget), ${floodLines.length} log lines written (${received} received on stderr), max ${maxWindow} in any 1 s`);
  console.log(`flood: heap after GC ${mb(before.heapUsed)} MB → ${mb(after.heapUsed)} MB (${growth >= 0 ? '+' : ''}${mb(growth)} MB), rss ${mb(before.rss)} → ${mb(after.rss)} MB; /health ${answered}/${probes} answered, slowest ${worst} ms`);
  if (server.other.length > 0) console.log(`flood: other stderr lines: ${server.other.slice(0, 5).join(' | ')}`);
  results.lines.push(`| flood rate | ${Math.round(perSecond)} late writes/s for ${seconds.toFixed(1)} s (${LATE_PER_REQUEST} per request, ${result.requests.total} requests, ${CONNECTIONS} connections) | — |`);
  check('flood log lines (total)', floodLines.length <= bound, `${floodLines.length} ≤ ${bound} = ENDGUARD_RATE_LIMIT ${RATE_LIMIT} × (${Math.ceil(seconds + 1)} s + 1)`);
  check('flood log lines (any 1 s)', maxWindow <= 2 * RATE_LIMIT, `${maxWindow} ≤ ${2 * RATE_LIMIT} = 2 × ENDGUARD_RATE_LIMIT`);
  check('flood heap after GC', growth <= FLOOD_HEAP_MARGIN_MB * MB, `${mb(before.heapUsed)} → ${mb(after.heapUsed)} MB (${growth >= 0 ? '+' : ''}${mb(growth)} MB ≤ +${FLOOD_HEAP_MARGIN_MB} MB)`);
  check('flood server answers', answered >= probes * 0.95 && health.body === 'ok' && result.errors === 0, `/health ${answered}/${probes} during (slowest ${worst} ms), ${health.body === 'ok' ? 'ok' : 'no answer'} after; ${result.errors} client errors`);
}

async function soak(preload = true) {
  const server = await startServer(preload);
  const { port } = server;
  const warm = Math.min(20_000, Math.floor(SOAK_REQUESTS / 10));
  const started = Date.now();
  await cannon({ url: `http://127.0.0.1:${port}/clean`, amount: warm });
  const before = await heap(port);
  const result = await cannon({ url: `http://127.0.0.1:${port}/clean`, amount: SOAK_REQUESTS - warm });
  await new Promise((r) => setTimeout(r, 500));
  const after = await heap(port);
  const seconds = (Date.now() - started) / 1000;
  await stop(server.child);
  const growth = after.heapUsed - before.heapUsed;
  const total = warm + result.requests.total;
  if (!preload) {
    console.log(`soak reference (no agent): ${total} requests in ${seconds.toFixed(1)} s; heap after GC ${mb(before.heapUsed)} → ${mb(after.heapUsed)} MB; rss ${mb(before.rss)} → ${mb(after.rss)} MB`);
    results.lines.push(`| soak reference, no agent | ${total} requests in ${seconds.toFixed(1)} s, heap after GC ${mb(before.heapUsed)} → ${mb(after.heapUsed)} MB, rss ${mb(before.rss)} → ${mb(after.rss)} MB | — |`);
    return;
  }
  console.log(`soak: ${total} requests in ${seconds.toFixed(1)} s (${result.non2xx} non-2xx, ${result.errors} errors); heap after GC at ${warm}: ${mb(before.heapUsed)} MB, at ${after.requests - 1}: ${mb(after.heapUsed)} MB (${growth >= 0 ? '+' : ''}${mb(growth)} MB); rss ${mb(before.rss)} → ${mb(after.rss)} MB; sampled responses alive after GC: ${after.alive}/${after.sampled}; reports: ${server.lines.length}`);
  results.lines.push(`| soak time, rss | ${seconds.toFixed(1)} s; rss ${mb(before.rss)} → ${mb(after.rss)} MB (not bounded: allocator high-water mark, compare the reference) | — |`);
  check('soak requests', total >= SOAK_REQUESTS && result.errors === 0 && result.non2xx === 0, `${total} clean requests, ${result.errors} errors, ${result.non2xx} non-2xx, ${server.lines.length} reports`);
  check('soak heap after GC', growth <= SOAK_HEAP_MARGIN_MB * MB, `${mb(before.heapUsed)} MB at ${warm} → ${mb(after.heapUsed)} MB at ${total} (${growth >= 0 ? '+' : ''}${mb(growth)} MB ≤ +${SOAK_HEAP_MARGIN_MB} MB)`);
  check('soak per-stream state released', after.alive === 0, `${after.alive} of ${after.sampled} sampled responses alive after GC`);
}

console.log(`node ${process.version}, endguard ${ROOT}`);
if (only !== 'soak') await flood();
if (only !== 'flood') {
  await soak(true);
  if (process.env.STRESS_REFERENCE !== '0') await soak(false);
}
console.log('\n| check | measured | result |\n|---|---|---|');
for (const l of results.lines) console.log(l);
process.exit(results.ok ? 0 : 1);
