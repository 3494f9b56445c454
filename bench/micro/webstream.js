'use strict';
// Micro: create a web ReadableStream, enqueue 10 chunks, close, repeatedly (the web twin of
// cycle.js). argv[2]: milliseconds to measure. Prints {"opsPerSec", "samples"} (median of 100 ms
// samples). The stream is never read: close() with a full queue is the producer's whole cycle.
const ms = Number(process.argv[2] || 2000);
const chunk = new Uint8Array(16);
const BATCH = 500;

function cycle() {
  let controller;
  new ReadableStream({
    start(c) {
      controller = c;
    },
  });
  for (let i = 0; i < 10; i++) controller.enqueue(chunk);
  controller.close();
}

// a batch runs synchronously; the setImmediate between batches lets the start() microtasks run
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
