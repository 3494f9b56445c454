'use strict';
// What each primitive the agent could use at res.end() costs INSIDE a loaded server (optimized,
// inlined frames make stack captures dearer than in a loop). No agent is loaded. Each request
// runs one probe, rotating through them, timed with hrtime around REPEAT calls, just before
// res.end() from a wrapper of the kind the agent installs. GET /results returns the median ns per call.
const http = require('node:http');
const util = require('node:util');
const { executionAsyncId, AsyncLocalStorage } = require('node:async_hooks');

const REPEAT = 4;
const kSlot = Symbol('bench.slot');
const weak = new WeakMap();
const als = new AsyncLocalStorage();
const ErrorCtor = Error;

class Record {
  constructor() {
    this.first = 0;
    this.endMethod = null;
    this.endCapture = null;
    this.endAsyncId = -1;
    this.endTime = 0;
    this.headerCapture = null;
    this.headerAsyncId = -1;
    this.pipes = null;
    this.endContext = undefined;
    this.clientDisconnect = false;
    this.lastLateSite = null;
  }
}

function capture(limit, above) {
  const holder = {};
  const previous = ErrorCtor.stackTraceLimit;
  ErrorCtor.stackTraceLimit = limit;
  ErrorCtor.captureStackTrace(holder, above);
  ErrorCtor.stackTraceLimit = previous;
  return holder;
}

// each probe gets (res, above) and runs once; it is called REPEAT times per request, except the
// per-object ones, which run once (they need a fresh object)
const PROBES = {
  'noop (timer overhead)': () => 0,
  'executionAsyncId()': () => executionAsyncId(),
  'Date.now()': () => Date.now(),
  'performance.now()': () => performance.now(),
  'new Record() (11 fields)': () => new Record(),
  'read res[symbol] (miss)': (res) => res[kSlot],
  'Error.stackTraceLimit save/set/restore': () => {
    const p = ErrorCtor.stackTraceLimit;
    ErrorCtor.stackTraceLimit = 3;
    ErrorCtor.stackTraceLimit = p;
  },
  'captureStackTrace limit 1': (res, above) => capture(1, above),
  'captureStackTrace limit 3': (res, above) => capture(3, above),
  'captureStackTrace limit 10': (res, above) => capture(10, above),
  'captureStackTrace limit 10 + read .stack (format)': (res, above) => capture(10, above).stack,
  'util.getCallSites(10)': () => util.getCallSites(10),
  'AsyncLocalStorage.getStore()': () => als.getStore(),
};
const ONCE = {
  'defineProperty(res, symbol, record)': (res) =>
    Object.defineProperty(res, kSlot, { value: new Record(), writable: true, configurable: true, enumerable: false }),
  'res[symbol] = record (plain add)': (res) => {
    res[kSlot] = new Record();
  },
  'WeakMap.set(res, record)': (res) => weak.set(res, new Record()),
};
const names = [...Object.keys(PROBES), ...Object.keys(ONCE)];
// per-measurement ns per call; medians are immune to the preemptions a busy machine adds
const MAX = 50_000;
const totals = new Map(names.map((n) => [n, { samples: new Float64Array(MAX), count: 0 }]));
function record(t, ns) {
  t.samples[t.count % MAX] = ns;
  t.count++;
}
function medianOf(t) {
  const n = Math.min(t.count, MAX);
  if (n === 0) return null;
  const sorted = Array.from(t.samples.subarray(0, n)).sort((a, b) => a - b);
  return sorted[n >> 1];
}
let next = 0;

function end(res, body) {
  // stands where the agent's end() wrapper stands: `above` for the captures
  const name = names[next];
  next = (next + 1) % names.length;
  const t = totals.get(name);
  const probe = PROBES[name];
  if (probe !== undefined) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < REPEAT; i++) probe(res, end);
    record(t, Number(process.hrtime.bigint() - t0) / REPEAT);
  } else {
    const t0 = process.hrtime.bigint();
    ONCE[name](res);
    record(t, Number(process.hrtime.bigint() - t0));
  }
  return res.end(body);
}

const server = http.createServer((req, res) => {
  if (req.url === '/results') {
    const out = {};
    for (const [n, t] of totals) out[n] = medianOf(t);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(out));
    return;
  }
  if (req.url === '/reset') for (const t of totals.values()) t.count = 0;
  als.run(1, () => {
    res.setHeader('content-type', 'text/plain');
    end(res, 'Hello World');
  });
});
require('../servers/listen').listen(server);
