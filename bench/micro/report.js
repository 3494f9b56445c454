'use strict';
// Micro: the cost of one violation report, on a real late write. Run with the agent preloaded
// and ENDGUARD_LOG=off; a diagnostics_channel subscriber turns each report into a JSON line
// (what ENDGUARD_LOG=json would write, minus the stderr write). Without the agent it measures
// Node's own cost of the same late write (it builds an ERR_STREAM_WRITE_AFTER_END error).
// argv[2]: iterations, argv[3]: 'first' to clear the armed keys before each report (the armed
// policy's first report: no end stack). Prints {"medianUs","p90Us","reports",...}.
const path = require('node:path');
const dc = require('node:diagnostics_channel');
const { Writable } = require('node:stream');

const iterations = Number(process.argv[2] || 2000);
const armedFirst = process.argv[3] === 'first';
// 'noprepare': Node 20+ installs its own Error.prepareStackTrace; unset it to measure what
// formatting each stack a second time through it costs the report
if (process.argv[4] === 'noprepare') Error.prepareStackTrace = undefined;
const DEPTH = 20; // user frames below the end and late calls, as in a real handler

let agent = null;
if (process.execArgv.some((a) => a.includes('register'))) {
  // dist internals: lift the 100 reports/second budget, and reset the armed keys between samples
  const dist = path.join(__dirname, '..', '..', 'dist', 'patch');
  agent = { late: require(path.join(dist, 'late.js')), capture: require(path.join(dist, 'capture.js')) };
  agent.late.configureLate(10, 60_000, Number.MAX_SAFE_INTEGER);
}

let reports = 0;
let bytes = 0;
let sample = null;
dc.subscribe('endguard:violation', (message) => {
  const line = JSON.stringify(message) + '\n';
  bytes += line.length;
  reports++;
  sample = message;
});

function nest(depth, fn) {
  return depth === 0 ? fn() : nest(depth - 1, fn) + 0;
}

function endIt(stream) {
  stream.end();
  return 0;
}

function writeLate(stream) {
  const t0 = process.hrtime.bigint();
  stream.write('late');
  return Number(process.hrtime.bigint() - t0);
}

function once() {
  const w = new Writable({ write(c, e, cb) { cb(); } });
  w.on('error', () => {});
  if (agent !== null && armedFirst) agent.capture.configureCapture({ capture: 'armed', captureBudget: 6 });
  nest(DEPTH, () => endIt(w));
  let ns = 0;
  nest(DEPTH, () => ((ns = writeLate(w)), 0));
  return ns;
}

async function main() {
  for (let i = 0; i < 200; i++) once();
  await new Promise((r) => setImmediate(r));
  reports = 0;
  bytes = 0;
  const times = [];
  for (let i = 0; i < iterations; i++) {
    times.push(once());
    if (i % 100 === 99) await new Promise((r) => setImmediate(r)); // let error events drain
  }
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))] / 1000;
  process.stdout.write(
    JSON.stringify({
      medianUs: q(0.5),
      p90Us: q(0.9),
      reports,
      iterations,
      avgLineBytes: reports ? Math.round(bytes / reports) : 0,
      hasEndStack: sample ? sample.endStack !== null : null,
      endSite: sample ? sample.endSite : null,
      lateSite: sample ? sample.lateSite : null,
    }) + '\n',
  );
}
main();
