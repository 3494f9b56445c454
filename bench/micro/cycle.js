'use strict';
// Micro: create a stream, 10 writes + end, repeatedly. argv[2]: writable | passthrough,
// argv[3]: milliseconds to measure. Prints {"opsPerSec", "samples"} (median of 100 ms samples).
const { Writable, PassThrough } = require('node:stream');

const kind = process.argv[2] || 'writable';
const ms = Number(process.argv[3] || 2000);
const chunk = Buffer.from('0123456789abcdef');
const BATCH = 500;

function make() {
  if (kind === 'passthrough') {
    const s = new PassThrough();
    s.resume(); // drain the readable side so nothing piles up
    return s;
  }
  return new Writable({
    write(c, e, cb) {
      cb();
    },
  });
}

function cycle() {
  const s = make();
  for (let i = 0; i < 10; i++) s.write(chunk);
  s.end();
}

// a batch runs synchronously; the setImmediate between batches lets nextTick callbacks and
// finish/close events run, as they would in a program
function batch() {
  return new Promise((resolve) => {
    for (let i = 0; i < BATCH; i++) cycle();
    setImmediate(resolve);
  });
}

async function measure(windowMs) {
  let ops = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(windowMs * 1e6);
  let now = t0;
  while (now < end) {
    await batch();
    ops += BATCH;
    now = process.hrtime.bigint();
  }
  return ops / (Number(now - t0) / 1e9);
}

(async () => {
  await measure(Math.min(500, ms / 2)); // warm-up (JIT)
  const samples = [];
  const windows = Math.max(3, Math.round(ms / 100));
  for (let i = 0; i < windows; i++) samples.push(await measure(ms / windows));
  samples.sort((a, b) => a - b);
  const opsPerSec = samples[samples.length >> 1];
  process.stdout.write(JSON.stringify({ opsPerSec, samples: samples.length }) + '\n');
})();
