'use strict';
// Where a violation report's time goes: bench/micro/report.js under --cpu-prof (always policy,
// ENDGUARD_LOG=off, JSON.stringify subscriber), samples inside the timed late write only.
// Usage: node bench/profile-report.js [iterations]
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const C = require('./lib/common');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'endguard-report-prof-'));
const r = spawnSync(
  C.NODE,
  ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '50', '--require', C.REGISTER_CJS, path.join(__dirname, 'micro', 'report.js'), process.argv[2] || '3000'],
  { env: C.cleanEnv({ ENDGUARD_LOG: 'off', ENDGUARD_CAPTURE: 'always' }), encoding: 'utf8' },
);
if (r.status !== 0) throw new Error(r.stderr);
const profile = JSON.parse(fs.readFileSync(path.join(dir, fs.readdirSync(dir)[0]), 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const time = new Map();
for (let i = 0; i < profile.samples.length; i++) time.set(profile.samples[i], (time.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
const key = (n) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace('file://', '').replace(C.ROOT + '/', '')}:${n.callFrame.lineNumber + 1}`;
const self = new Map();
const incl = new Map();
let total = 0;
for (const [id, us] of time) {
  const n = nodes.get(id);
  const chain = [];
  for (let c = n; c !== undefined; c = nodes.get(parent.get(c.id))) chain.push(c);
  if (!chain.some((c) => c.callFrame.functionName === 'writeLate')) continue;
  total += us;
  self.set(key(n), (self.get(key(n)) ?? 0) + us);
  for (const k of new Set(chain.map(key))) incl.set(k, (incl.get(k) ?? 0) + us);
}
const top = (m, skip) =>
  [...m].filter(([k]) => !skip.test(k)).sort((a, b) => b[1] - a[1]).slice(0, 20).map(([k, us]) => [k, ((us / total) * 100).toFixed(1) + '%']);
console.log(`${r.stdout.trim()}\nsamples inside the late write: ${(total / 1000).toFixed(0)} ms\n`);
console.log(C.table(['inclusive', '% of late write'], top(incl, /report\.js|\(root\)/)));
console.log();
console.log(C.table(['self', '% of late write'], top(self, /^$/)));
