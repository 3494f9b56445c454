import * as dc from 'node:diagnostics_channel';
import { warnInternal } from '../stderr';
import { lazy } from '../lazy-load';
import { FIRST_IMPORT } from './esm';
import { installPackagePatches, uninstallPackagePatches } from './modules';
import { PACKAGE_PATCHES } from './packages';
import { patchWritable } from './writable';
import { patchPipe } from './pipe';
import { unwrapAll } from './wrap';
import { patchAbort } from './abort';
import { installWebStreams, patchBridges, uninstallWebStreams } from './web/load';
import { unwatchRequires, watchRequires } from './require-watch';

// http and http2 are not loaded at startup, and endguard must not load them for the app.
// - A server: Node publishes http.server.request.start before the first handler runs (CJS and
//   ESM alike).
// - A client: http.client.request.start comes only when the first request *ends* (Node 20–24),
//   too late for that request; net.client.socket is published inside http.request() when it
//   opens its socket, before the caller can write or end.
// - http2 has no channel on Node 20: each server connection (net.server.socket) checks whether
//   the app has loaded http2 yet.
// Every probe unsubscribes (on the next tick) once its module is patched.
const HTTP_CHANNELS = ['http.server.request.start', 'http.client.request.start'];
const HTTP_CLIENT_PROBE = 'net.client.socket';
const HTTP2_PROBE = 'net.server.socket';

function moduleLoadList(): unknown[] | undefined {
  const list = (process as { moduleLoadList?: unknown }).moduleLoadList;
  return Array.isArray(list) ? list : undefined;
}

function loaded(id: string): boolean {
  return moduleLoadList()?.includes(`NativeModule ${id}`) === true;
}

/** Has Node loaded `id` since the last call? Node only appends to moduleLoadList. */
function loadWatcher(id: string): () => boolean {
  const entry = `NativeModule ${id}`;
  let scannedUpTo = 0;
  return () => {
    const list = moduleLoadList();
    if (list === undefined) return false;
    for (let i = scannedUpTo; i < list.length; i++) if (list[i] === entry) return true;
    scannedUpTo = list.length;
    return false;
  };
}

/** Runs `patch` the first time only (until reset by stop()), then drops its probes on the next tick. */
function patchOnce(what: string, patch: () => void, unsubscribe: () => void): { run(): void; reset(): void } {
  let done = false;
  return {
    run() {
      if (done) return;
      done = true;
      try {
        patch();
      } catch (error) {
        warnInternal(`${what} patch`, error);
      }
      process.nextTick(unsubscribe);
    },
    reset() {
      done = false;
    },
  };
}

const httpPatch = patchOnce(
  'http',
  () => lazy().patchOutgoing(require('node:http')),
  () => unsubscribeHttp(),
);
const http2Patch = patchOnce(
  'http2',
  () => lazy().patchHttp2(require('node:http2')),
  () => dc.unsubscribe(HTTP2_PROBE, onServerSocket),
);

// _http_outgoing: loaded by http and by https alone
const httpLoaded = loadWatcher('_http_outgoing');
const http2Loaded = loadWatcher('http2');

function onHttpMessage(): void {
  httpPatch.run();
}
function onClientSocket(): void {
  if (httpLoaded()) httpPatch.run();
}
function onServerSocket(): void {
  if (http2Loaded()) http2Patch.run();
}

function unsubscribeHttp(): void {
  for (const name of HTTP_CHANNELS) dc.unsubscribe(name, onHttpMessage);
  dc.unsubscribe(HTTP_CLIENT_PROBE, onClientSocket);
}

// node:stream is not loaded at startup either (`node -e`, and any program before its first
// require or import; ~2.7 ms): an app reaches a stream only through a module, so its
// prototypes are patched at the app's first require() (require-watch.ts) or import (the
// module.import tracing channel, Node 22.3+), before that module loads. Streams Node made
// before then (process.stdout) are patched too, from then on: wrappers are on the prototypes.
// Where the first import cannot be seen (Node before 22.3), at once.
const streamPatch = patchOnce(
  'stream',
  () => {
    patchWritable();
    patchPipe();
    patchBridges();
    patchAbort();
  },
  () => dc.unsubscribe(FIRST_IMPORT, onFirstModule),
);

function onFirstModule(): void {
  streamPatch.run();
}

function importsVisible(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 3);
}

function installStreams(): void {
  if (loaded('stream') || !importsVisible()) {
    streamPatch.run();
    return;
  }
  dc.subscribe(FIRST_IMPORT, onFirstModule);
  watchRequires(() => {
    streamPatch.run();
    return true;
  });
}

export function installPatches(): void {
  installStreams();
  if (loaded('_http_outgoing')) httpPatch.run();
  else {
    for (const name of HTTP_CHANNELS) dc.subscribe(name, onHttpMessage);
    dc.subscribe(HTTP_CLIENT_PROBE, onClientSocket);
  }
  if (loaded('http2')) http2Patch.run();
  else dc.subscribe(HTTP2_PROBE, onServerSocket);
  installPackagePatches(PACKAGE_PATCHES, () => {
    if (loaded('_http_outgoing')) httpPatch.run();
  });
  installWebStreams();
}

export function uninstallPatches(): void {
  dc.unsubscribe(FIRST_IMPORT, onFirstModule);
  unwatchRequires();
  unsubscribeHttp();
  dc.unsubscribe(HTTP2_PROBE, onServerSocket);
  uninstallPackagePatches();
  uninstallWebStreams();
  unwrapAll();
  httpPatch.reset();
  http2Patch.reset();
  streamPatch.reset();
}
