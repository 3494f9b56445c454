import * as dc from 'node:diagnostics_channel';
import { warnInternal } from '../stderr';
import { installPackagePatches, uninstallPackagePatches, type PackagePatch } from './modules';
import { fastifyPatch } from './fastify';
import { koaPatch } from './koa';
import { patchWritable } from './writable';
import { patchPipe } from './pipe';
import { unwrapAll } from './wrap';
import { installWebStreams, uninstallWebStreams } from './web/load';
import { readableStreamPatches } from './readable-stream';
import { minipassPatch } from './minipass';
import { wsPatches } from './ws';
import { compressionPatch } from './compression';

/** Packages patched when the app loads them: one file of patch/ per family. */
const PACKAGE_PATCHES: readonly PackagePatch[] = [
  fastifyPatch, koaPatch, ...readableStreamPatches, minipassPatch, ...wsPatches, compressionPatch,
];

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
  () => (require('./outgoing') as typeof import('./outgoing')).patchOutgoing(require('node:http')),
  () => unsubscribeHttp(),
);
const http2Patch = patchOnce(
  'http2',
  () => (require('./http2') as typeof import('./http2')).patchHttp2(require('node:http2')),
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

export function installPatches(): void {
  patchWritable();
  patchPipe();
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
  unsubscribeHttp();
  dc.unsubscribe(HTTP2_PROBE, onServerSocket);
  uninstallPackagePatches();
  uninstallWebStreams();
  unwrapAll();
  httpPatch.reset();
  http2Patch.reset();
}
