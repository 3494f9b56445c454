'use strict';
// Bench-only preload (after register.cjs): restores chosen originals, to find which wrapper an
// indirect cost comes from. BENCH_UNWRAP: comma list of Proto.method, e.g.
// OutgoingMessage.setHeader,Writable.write,Duplex.write (http is loaded here so it is patched).
const http = require('node:http');
const stream = require('node:stream');
require(require('node:path').join(__dirname, '..', 'dist', 'patch', 'outgoing.js')).patchOutgoing(http);

const protos = {
  OutgoingMessage: http.OutgoingMessage.prototype,
  ServerResponse: http.ServerResponse.prototype,
  Writable: stream.Writable.prototype,
  Duplex: stream.Duplex.prototype,
  Readable: stream.Readable.prototype,
};
for (const item of String(process.env.BENCH_UNWRAP || '').split(',').filter(Boolean)) {
  const [proto, method] = item.split('.');
  const target = protos[proto];
  const original = target?.[method]?.__original;
  if (typeof original !== 'function') throw new Error(`bench/unwrap.js: ${item} is not wrapped`);
  target[method] = original;
}
