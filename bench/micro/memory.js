'use strict';
// Micro: heap kept per live ended stream, and what is kept once the streams are gone.
// Run with --expose-gc. argv[2]: writable | response, argv[3]: stream count.
// Each stream is ended by a closure (with a ~0.5 KB payload in its context) called as a method
// of a holder object: a captured, unformatted stack keeps such receivers and closures alive.
// Prints {"liveBytesPerStream","holdersAlivePct","goneBytesPerStream","streamsAlive",...}.
const http = require('node:http');
const net = require('node:net');
const v8 = require('node:v8');
const { Writable } = require('node:stream');

const kind = process.argv[2] || 'writable';
const N = Number(process.argv[3] || 20000);

function heap() {
  for (let i = 0; i < 4; i++) global.gc();
  return v8.getHeapStatistics().used_heap_size;
}

function makeHolder(i) {
  const payload = new Array(64).fill(i);
  return {
    payload,
    finish(stream) {
      stream.end(); // the end site
      return payload.length;
    },
  };
}

let req = null;
function makeStream() {
  if (kind === 'response') return new http.ServerResponse(req);
  return new Writable({ write(c, e, cb) { cb(); } });
}

async function triggerHttpPatch() {
  // endguard patches http when Node publishes the first http.server.request.start
  const server = http.createServer((rq, rs) => rs.end('ok'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  await new Promise((resolve, reject) => {
    http.get({ port: server.address().port, host: '127.0.0.1', agent: false }, (res) => {
      res.resume();
      res.on('end', resolve);
    }).on('error', reject);
  });
  await new Promise((r) => server.close(r));
  req = new http.IncomingMessage(new net.Socket());
  req.method = 'GET';
  req.url = '/bench';
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
}

async function main() {
  if (kind === 'response') await triggerHttpPatch();
  // warm up the code paths so compiled code and hidden classes are not counted
  for (let i = 0; i < 200; i++) makeHolder(i).finish(makeStream());
  await new Promise((r) => setTimeout(r, 20));

  const before = heap();
  let streams = new Array(N);
  const holderRefs = new Array(N);
  const streamRefs = new Array(N);
  const baseline = heap(); // the arrays themselves
  for (let i = 0; i < N; i++) {
    const s = makeStream();
    if (kind === 'writable') s.on('error', () => {});
    let h = makeHolder(i);
    h.finish(s);
    holderRefs[i] = new WeakRef(h);
    streamRefs[i] = new WeakRef(s);
    streams[i] = s;
    h = null;
    if (i % 1000 === 999) await new Promise((r) => setImmediate(r)); // let finish run
  }
  await new Promise((r) => setTimeout(r, 50));
  const live = heap();
  // read the array after measuring: otherwise V8 may treat it as dead before the measurement
  const liveStreams = streams.filter(Boolean).length;
  let holdersAlive = 0;
  for (const r of holderRefs) if (r.deref() !== undefined) holdersAlive++;

  streams = null;
  await new Promise((r) => setTimeout(r, 50));
  const gone = heap();
  let streamsAlive = 0;
  for (const r of streamRefs) if (r.deref() !== undefined) streamsAlive++;
  // holders counted again: with the streams gone, nothing may keep them
  let holdersAliveAfter = 0;
  for (const r of holderRefs) if (r.deref() !== undefined) holdersAliveAfter++;
  const refsBytes = baseline - before;
  process.stdout.write(
    JSON.stringify({
      kind,
      streams: N,
      liveStreams,
      liveBytesPerStream: (live - baseline) / N,
      holdersAlivePct: (holdersAlive / N) * 100,
      goneBytesPerStream: (gone - baseline) / N,
      streamsAlive,
      holdersAliveAfter,
      refsBytesPerStream: refsBytes / N,
    }) + '\n',
  );
}
main();
