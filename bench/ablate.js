'use strict';
// Bench-only preload, loaded AFTER register.cjs: swaps one of the agent's internals (through
// the compiled module's exports, which the patch layer calls through) to measure what that
// piece costs on a real server. BENCH_ABLATE: comma list of
//   nocapture  captureSite returns an empty holder (with ENDGUARD_CAPTURE=always: everything but the
//              V8 stack capture; late.ts's capture at a violation is kept)
//   noasyncid  async_hooks.executionAsyncId() returns a constant (the agent's calls read it per call)
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');
const what = new Set(String(process.env.BENCH_ABLATE || '').split(',').filter(Boolean));

if (what.has('nocapture')) {
  const capture = require(path.join(dist, 'patch', 'capture.js'));
  capture.captureSite = () => ({});
}
if (what.has('noasyncid')) {
  const hooks = require('node:async_hooks');
  hooks.executionAsyncId = () => 1;
}
