'use strict';
// Bench-only preload, WITHOUT the agent: wraps the same methods endguard wraps with plain
// pass-through wrappers (`return original.apply(this, arguments)`), to measure the floor any
// wrapper-based agent pays: the extra call and what it does to V8's inlining of Node's code.
const http = require('node:http');
const { Writable, Duplex, Readable } = require('node:stream');

function wrap(proto, name) {
  const original = proto[name];
  if (typeof original !== 'function') return;
  const wrapper = function () {
    return original.apply(this, arguments);
  };
  Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true });
  Object.defineProperty(wrapper, 'length', { value: original.length, configurable: true });
  proto[name] = wrapper;
}

for (const proto of [Writable.prototype, Duplex.prototype]) for (const m of ['write', 'end', 'destroy']) wrap(proto, m);
wrap(Readable.prototype, 'pipe');
for (const m of ['write', 'end', 'destroy', 'setHeader', 'appendHeader']) wrap(http.OutgoingMessage.prototype, m);
wrap(http.ServerResponse.prototype, 'writeHead');
wrap(http.ClientRequest.prototype, 'destroy');
