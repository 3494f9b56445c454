import * as dc from 'node:diagnostics_channel';
import { patchWritable } from './writable';
import { patchPipe } from './pipe';
import { patchOutgoing } from './outgoing';
import { patchHttp2 } from './http2';
import { unwrapAll } from './wrap';
import { warnInternal } from '../runtime';

// http and http2 are not loaded at startup, and endguard must not load them for the app.
// Node publishes on these channels before the first request handler runs, in CJS and ESM
// alike; the first message patches and the subscription is dropped on the next tick.
const HTTP_CHANNELS = ['http.server.request.start', 'http.client.request.start'];
// No http2 channel exists on Node 20: every server connection (net.server.socket) checks
// whether the app has loaded http2 yet, until it has.
const HTTP2_PROBE = 'net.server.socket';

function loaded(id: string): boolean {
  const list = (process as { moduleLoadList?: unknown }).moduleLoadList;
  return Array.isArray(list) && list.includes(`NativeModule ${id}`);
}

// Node only appends to moduleLoadList: each probe scans just what was loaded since the last one.
let scannedUpTo = 0;
function http2LoadedSinceLastProbe(): boolean {
  const list = (process as { moduleLoadList?: unknown }).moduleLoadList;
  if (!Array.isArray(list)) return false;
  for (let i = scannedUpTo; i < list.length; i++) if (list[i] === 'NativeModule http2') return true;
  scannedUpTo = list.length;
  return false;
}

function patchHttpNow(): void {
  try {
    patchOutgoing(require('node:http'));
  } catch (error) {
    warnInternal('http patch', error);
  }
}

function patchHttp2Now(): void {
  try {
    patchHttp2(require('node:http2'));
  } catch (error) {
    warnInternal('http2 patch', error);
  }
}

let httpPending = false;
function onHttpMessage(): void {
  patchHttpNow();
  if (httpPending) return;
  httpPending = true;
  process.nextTick(unsubscribeHttp);
}
function unsubscribeHttp(): void {
  for (const name of HTTP_CHANNELS) dc.unsubscribe(name, onHttpMessage);
}

function onServerSocket(): void {
  if (!http2LoadedSinceLastProbe()) return;
  patchHttp2Now();
  process.nextTick(() => dc.unsubscribe(HTTP2_PROBE, onServerSocket));
}

export function installPatches(): void {
  patchWritable();
  patchPipe();
  if (loaded('http')) patchHttpNow();
  else for (const name of HTTP_CHANNELS) dc.subscribe(name, onHttpMessage);
  if (loaded('http2')) patchHttp2Now();
  else dc.subscribe(HTTP2_PROBE, onServerSocket);
}

export function uninstallPatches(): void {
  unsubscribeHttp();
  dc.unsubscribe(HTTP2_PROBE, onServerSocket);
  unwrapAll();
}
