'use strict';
// The agent's direct cost per response, measured inside one loaded server run WITH the agent.
// Requests alternate: on each response (and its socket) the methods the agent wraps are set as
// own properties, either to the agent's wrappers (the current prototype methods) or to Node's
// originals (shimmer keeps them as `__original`). Both branches pay the same property writes,
// and each is timed with hrtime around the handler's response call; medians over many requests
// cancel the noise other processes add. What the difference cannot show: indirect costs that
// hit both branches alike (e.g. polymorphic call sites in Node's code once wrappers exist).
// argv[2] or BENCH_WRAPPER_APP: hello | express.
const http = require('node:http');
const { Duplex } = require('node:stream');

const app = process.argv[2] || process.env.BENCH_WRAPPER_APP || 'hello';
const MAX = 100_000;
const samples = { wrapped: new Float64Array(MAX), original: new Float64Array(MAX) };
const counts = { wrapped: 0, original: 0 };
let flip = false;
let methods = null;

function methodsFor(res) {
  const out = { wrapped: {}, original: {}, socketWrapped: null, socketOriginal: null };
  let ok = false;
  for (const name of ['end', 'write', 'setHeader', 'appendHeader', 'writeHead']) {
    const current = res[name];
    out.wrapped[name] = current;
    out.original[name] = typeof current?.__original === 'function' ? current.__original : current;
    if (current?.__original) ok = true;
  }
  const sw = Duplex.prototype.write;
  out.socketWrapped = sw;
  out.socketOriginal = typeof sw.__original === 'function' ? sw.__original : sw;
  return ok ? out : null;
}

function use(res, set, socketWrite) {
  res.end = set.end;
  res.write = set.write;
  res.setHeader = set.setHeader;
  res.appendHeader = set.appendHeader;
  res.writeHead = set.writeHead;
  if (res.socket) res.socket.write = socketWrite;
}

function median(arr, n) {
  const sorted = Array.from(arr.subarray(0, Math.min(n, MAX))).sort((a, b) => a - b);
  return sorted.length ? sorted[sorted.length >> 1] : null;
}

function results(res) {
  res.setHeader('content-type', 'application/json');
  res.end(
    JSON.stringify({
      patched: methods !== null,
      wrappedNs: median(samples.wrapped, counts.wrapped),
      originalNs: median(samples.original, counts.original),
      requests: counts.wrapped + counts.original,
    }),
  );
}

function respond(res) {
  if (app === 'express') res.send('Hello World');
  else {
    res.setHeader('content-type', 'text/plain');
    res.end('Hello World');
  }
}

function handle(req, res) {
  if (req.url === '/results') return results(res);
  if (req.url === '/reset') counts.wrapped = counts.original = 0;
  if (methods === null) methods = methodsFor(res);
  if (methods === null) return respond(res);
  flip = !flip;
  const which = flip ? 'wrapped' : 'original';
  use(res, methods[which], flip ? methods.socketWrapped : methods.socketOriginal);
  const t0 = process.hrtime.bigint();
  respond(res);
  samples[which][counts[which]++ % MAX] = Number(process.hrtime.bigint() - t0);
}

let server;
if (app === 'express') {
  const express = require('express');
  const expressApp = express();
  expressApp.get('*splat', (req, res) => handle(req, res));
  server = http.createServer(expressApp);
} else {
  server = http.createServer(handle);
}
require('../servers/listen').listen(server);
