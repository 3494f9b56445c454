import * as dc from 'node:diagnostics_channel';
import type * as web from 'node:stream/web';
import { flags } from '../../flags';
import { warnInternal, warnOnce } from '../../stderr';
import { lazy } from '../../lazy-load';
import { setPipelineKey } from '../pipe';
import { watchRequires } from '../require-watch';
import { failed, idle, wrapMethod, type Hook } from '../wrap';

// Web streams are not loaded at startup (Node 20–26) and endguard must not load them for an app
// that never uses them (≈ 2–3 ms). They are patched at the app's first use:
// - the globals ReadableStream, WritableStream and TransformStream (readers, writers and
//   controllers are reached only through a stream) are lazy in Node: on 20 JS accessors, on 22+
//   V8 lazy data properties, which load their module even when redefined (but not when
//   deleted). Each is replaced by an accessor that patches; at the first use, each one left
//   becomes the plain data property Node's own would have become (a descriptor read before the
//   first use sees an accessor: the one observable difference);
// - Readable/Writable/Duplex .toWeb/.fromWeb, Node's bridges between its streams and web
//   streams; a toWeb also links the web side to its Node stream (links.ts), so that the end of
//   one side names the call made on the other (a writer.close() that ends the Node stream a
//   tick later, a cancel that destroys it);
// - `require('node:stream/web')` (require-watch.ts, no longer watched once patched);
// - an ESM `import ... from 'node:stream/web'` touches none of these: the first HTTP request
//   and the first turns of the event loop look at whether the app loaded them (Node 20 loads an
//   ES module graph over several turns; Node 22+ evaluates it before the first).
// Patching loads node:stream/web (≈ 0.6 ms: the adapters, compression and encoding streams too)
// and endguard's own web-streams modules: at startup only this file is loaded (each module
// costs its load and compile, ≈ 0.2–0.4 ms; ≈ 4 ms for all of them).

const GLOBALS = ['ReadableStream', 'WritableStream', 'TransformStream'] as const;

const FIRST_REQUEST = 'http.server.request.start';
/** Turns of the event loop the probe looks at (an ES module graph loads over a few on Node 20). */
const PROBE_TURNS = 50;

let patched = false;
let immediate: NodeJS.Immediate | null = null;
/** The accessors endguard put on globalThis and not yet replaced by Node's values. */
const triggers = new Map<string, Function>();

function loaded(): boolean {
  const list = (process as { moduleLoadList?: unknown }).moduleLoadList;
  return Array.isArray(list) && list.includes('NativeModule internal/webstreams/readablestream');
}

/** Patches web streams, once (until stop()). Never throws. */
export function patchWebStreamsNow(): void {
  if (patched || flags.config === undefined || flags.config.mode === 'off') return;
  patched = true;
  try {
    const api = require('node:stream/web') as typeof web;
    settleTriggers(api as unknown as Record<string, unknown>);
    const code = lazy();
    if (code.discoverInternals(api) === null) {
      warnOnce(
        'web-streams-shape',
        `endguard: Node ${process.version}'s web streams have an internal shape endguard does not know: late enqueue()/close() calls are reported without their end site, writers are not watched`,
      );
      code.patchWithoutInternals(api);
      return;
    }
    code.patchReadable(api);
    setPipelineKey(code.readableStateOf);
    code.patchTransform(api);
    code.patchWritableStreams(api);
  } catch (error) {
    warnInternal('web streams patch', error);
  }
}

function firstUse(): void {
  if (!patched && flags.enabled) patchWebStreamsNow();
}

function probe(): void {
  if (!patched && flags.enabled && loaded()) patchWebStreamsNow();
}

let turnsLeft = 0;
function probeTurn(): void {
  immediate = null;
  probe();
  if (patched || --turnsLeft <= 0) return;
  immediate = setImmediate(probeTurn);
  immediate.unref();
}

const WEB_IDS = new Set(['stream/web', 'node:stream/web']);

/** `require('node:stream/web')`: patched as it loads (require-watch.ts). */
function onRequire(id: string): boolean {
  if (patched) return true;
  if (!WEB_IDS.has(id)) return false;
  firstUse();
  return true;
}

type Link = 'readable' | 'writable' | 'pair' | 'fromWeb';

function makeBridge(link: Link | null) {
  return (original: Function, hook: Hook): Function =>
    function bridge(this: unknown, node: unknown) {
      if (idle(hook)) return original.apply(this, arguments);
      firstUse();
      const result = original.apply(this, arguments);
      if (link !== null && patched) {
        try {
          const links = lazy().webLinks;
          if (links.ready()) links[link](result, node);
        } catch (error) {
          failed(hook, error);
        }
      }
      return result;
    };
}

/** node:stream's statics: loaded with node:stream itself, patched with it (install.ts). */
export function patchBridges(): void {
  const stream = require('node:stream') as typeof import('node:stream');
  wrapMethod(stream.Readable, 'toWeb', 'Readable', makeBridge('readable'));
  wrapMethod(stream.Writable, 'toWeb', 'Writable', makeBridge('writable'));
  wrapMethod(stream.Duplex, 'toWeb', 'Duplex', makeBridge('pair'));
  wrapMethod(stream.Readable, 'fromWeb', 'Readable', makeBridge('fromWeb'));
  wrapMethod(stream.Writable, 'fromWeb', 'Writable', makeBridge(null));
  wrapMethod(stream.Duplex, 'fromWeb', 'Duplex', makeBridge(null));
}

function onFirstRequest(): void {
  probe();
  process.nextTick(() => dc.unsubscribe(FIRST_REQUEST, onFirstRequest));
}

function definePlain(key: string, value: unknown): void {
  Object.defineProperty(globalThis, key, { value, writable: true, enumerable: false, configurable: true });
}

/** Every trigger still in place becomes the data property Node's lazy global would have become. */
function settleTriggers(api: Record<string, unknown>): void {
  for (const [key, get] of triggers) {
    triggers.delete(key);
    if (Object.getOwnPropertyDescriptor(globalThis, key)?.get === get) definePlain(key, api[key]);
  }
}

function installTrigger(key: (typeof GLOBALS)[number]): void {
  const holder = globalThis as Record<string, unknown>;
  // Node's own globals are non-enumerable: an enumerable one was put there by someone else
  if (!(key in holder) || Object.prototype.propertyIsEnumerable.call(holder, key)) return;
  const get = function () {
    triggers.delete(key);
    const value = (require('node:stream/web') as Record<string, unknown>)[key];
    definePlain(key, value);
    firstUse();
    return value;
  };
  const set = function (value: unknown) {
    triggers.delete(key);
    definePlain(key, value);
  };
  Object.defineProperty(get, 'name', { value: `get ${key}` });
  Object.defineProperty(set, 'name', { value: `set ${key}` });
  // deleting first: redefining V8's lazy data property (Node 22+) would load it
  if (!delete holder[key]) return;
  Object.defineProperty(holder, key, { get, set, enumerable: false, configurable: true });
  triggers.set(key, get);
}

function installTriggers(): void {
  for (const key of GLOBALS) {
    try {
      installTrigger(key);
    } catch (error) {
      warnInternal(`the ${key} global`, error);
    }
  }
}

export function installWebStreams(): void {
  if (loaded()) {
    patchWebStreamsNow();
    return;
  }
  installTriggers();
  watchRequires(onRequire);
  dc.subscribe(FIRST_REQUEST, onFirstRequest);
  turnsLeft = PROBE_TURNS;
  immediate = setImmediate(probeTurn);
  immediate.unref();
}

export function uninstallWebStreams(): void {
  dc.unsubscribe(FIRST_REQUEST, onFirstRequest);
  if (immediate !== null) clearImmediate(immediate);
  immediate = null;
  // the accessors left on globalThis only load the value once stopped (firstUse checks flags.enabled)
  if (patched) lazy().forgetInternals();
  patched = false;
}
