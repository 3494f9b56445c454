'use strict';
// Bench-only preload, loaded AFTER register.cjs: swaps one of the agent's internals (through
// the compiled module's exports, which the patch layer calls through) to measure what that
// piece costs on a real server. BENCH_ABLATE: comma list of
//   nocapture  captureStack returns an empty holder (everything but the V8 stack capture)
//   plainslot  ensureRecord stores the record with a plain assignment instead of defineProperty
//   norecordof recordOf returns undefined (armed with nothing armed only): the slot lookups' cost
//   norecord   ensureRecord returns undefined: no state at all, only the wrappers' own cost
//   noasyncid  async_hooks.executionAsyncId() returns a constant (the agent's calls read it per call)
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');
const what = new Set(String(process.env.BENCH_ABLATE || '').split(',').filter(Boolean));

if (what.has('nocapture')) {
  const callsite = require(path.join(dist, 'callsite.js'));
  const empty = () => ({});
  callsite.captureStack = empty;
}
if (what.has('plainslot')) {
  const state = require(path.join(dist, 'state.js'));
  const { kRecord, StreamRecord } = require(path.join(dist, 'internal-types.js'));
  state.ensureRecord = function ensureRecord(stream) {
    const existing = stream[kRecord];
    if (existing !== undefined) return existing;
    const record = new StreamRecord();
    stream[kRecord] = record;
    return record;
  };
}
if (what.has('norecordof')) {
  // valid only while no record exists (armed, nothing armed): the cost of the slot lookups
  const state = require(path.join(dist, 'state.js'));
  state.recordOf = () => undefined;
}
if (what.has('norecord')) {
  const state = require(path.join(dist, 'state.js'));
  state.ensureRecord = () => undefined;
}
if (what.has('noasyncid')) {
  const hooks = require('node:async_hooks');
  hooks.executionAsyncId = () => 1;
}
