import { types } from 'node:util';
import type * as web from 'node:stream/web';
import { FIRST_DESTROY, FIRST_END } from '../../internal-types';
import { recordOf } from '../record';
import { failed, idle, wrapMethod, type Hook } from '../wrap';
import { onAbort, patchAbort } from '../abort';
import { afterCancelOfBridge, nodeSideFirst, recordAbort, recordCancel, recordPipe, recordWebEnd } from './ends';
import { CLOSING, ERRORED, OPEN, UNKNOWN, canonicalWritable, controllerOf, readableStanding, webInternals, type ReadableStanding } from './internals';
import { THROWING, lateWebCall, readableStateEnd, webKind, type WebLate } from './late';

// ReadableStreamDefaultController and ReadableByteStreamController: the producer's side. The
// wrappers are methods (no `prototype`, not constructible), as the originals are.

// Node reads a chunk through the intrinsic getters (primordials): so does endguard, so that a
// subclass's own getter never runs twice.
const intrinsic = (proto: object, name: string) => Object.getOwnPropertyDescriptor(proto, name)!.get as (this: unknown) => any;
const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object;
const viewBuffer = intrinsic(typedArrayProto, 'buffer');
const viewByteLength = intrinsic(typedArrayProto, 'byteLength');
const dataViewBuffer = intrinsic(DataView.prototype, 'buffer');
const dataViewByteLength = intrinsic(DataView.prototype, 'byteLength');
const bufferByteLength = intrinsic(ArrayBuffer.prototype, 'byteLength');

/** Node's enqueue() validates the chunk first: only a chunk it would accept meets the "already closed" check (Node 20–26). */
function acceptedByteChunk(chunk: unknown): boolean {
  try {
    if (!ArrayBuffer.isView(chunk)) return false;
    const dataView = types.isDataView(chunk);
    const buffer = (dataView ? dataViewBuffer : viewBuffer).call(chunk);
    if (types.isSharedArrayBuffer(buffer)) return false;
    return (dataView ? dataViewByteLength : viewByteLength).call(chunk) > 0 && bufferByteLength.call(buffer) > 0;
  } catch {
    return false;
  }
}

function readableLate(controller: object, standing: ReadableStanding, method: string, byte: boolean): WebLate {
  const record = recordOf(controller);
  return {
    kind: webKind(record, standing, method === 'close'),
    target: controller,
    method,
    holder: controller,
    record,
    side: 'controller',
    stateEnd: readableStateEnd(standing),
    erroredInside: standing === ERRORED,
    message: byte && standing !== CLOSING ? 'ReadableStream is already closed' : 'Controller is already closed',
  };
}

// The wrappers take the originals' parameters and call them with those (Node's methods have
// fixed parameters with defaults and read no `arguments`), and their late branch is a separate
// function: a wrapper that hands `arguments` on, or holds a closure over `this`, pays for the
// arguments object or the closure's context on every call (≈ 80 / 25 ns on Node 24).

function lateReadable(hook: Hook, self: object, standing: ReadableStanding, method: string, byte: boolean, original: Function, args: unknown[], above: Function): unknown {
  return lateWebCall(hook, () => readableLate(self, standing, method, byte), THROWING, self, original, args, above);
}

const makeEnqueue = (byte: boolean) => (original: Function, hook: Hook): Function => {
  const kState = webInternals()!.kState;
  const wrapper = {
    enqueue(this: object, chunk?: unknown) {
      // the hot path first: an open stream (the check Node's enqueue makes itself)
      const c = (this as Record<symbol, any> | undefined)?.[kState];
      if (c?.closeRequested === false && c.stream?.[kState]?.state === 'readable') return original.call(this, chunk);
      if (idle(hook)) return original.call(this, chunk);
      const standing = readableStanding(this);
      if (standing <= OPEN || (byte && !acceptedByteChunk(chunk))) return original.call(this, chunk);
      return lateReadable(hook, this, standing, 'enqueue', byte, original, [chunk], wrapper);
    },
  }.enqueue;
  return wrapper;
};

const makeClose = (byte: boolean) => (original: Function, hook: Hook): Function => {
  const wrapper = {
    close(this: object) {
      if (idle(hook)) return original.call(this);
      const standing = readableStanding(this);
      if (standing === UNKNOWN) return original.call(this);
      if (standing === OPEN) {
        recordWebEnd(hook, this, FIRST_END, 'close', wrapper);
        return original.call(this);
      }
      return lateReadable(hook, this, standing, 'close', byte, original, [], wrapper);
    },
  }.close;
  return wrapper;
};

function makeError(original: Function, hook: Hook): Function {
  const wrapper = {
    error(this: object, error?: unknown) {
      if (!idle(hook) && readableStanding(this) === OPEN) recordWebEnd(hook, this, FIRST_DESTROY, 'error', wrapper);
      return original.call(this, error);
    },
  }.error;
  return wrapper;
}

/**
 * Every cancel of a readable stream reaches its controller's [kCancel] (readableStreamCancel,
 * Node 20–26): the stream's or a reader's cancel(), pipeTo shutting down, a tee's branches, an
 * async iterator's return(), Readable.fromWeb's destroy, undici. The stream is already closed
 * then, and the underlying source's cancel(reason) runs inside.
 */
function makeCancel(original: Function, hook: Hook): Function {
  const wrapper = {
    // the name is copied from the original by wrapMethod
    cancel(this: object, reason?: unknown) {
      if (idle(hook) || readableStanding(this) === UNKNOWN) return original.call(this, reason);
      const bridged = nodeSideFirst(this);
      recordCancel(hook, this, 'cancel', reason, wrapper);
      if (bridged === -1) return original.call(this, reason);
      try {
        return original.call(this, reason);
      } finally {
        afterCancelOfBridge(hook, this, bridged);
      }
    },
  }.cancel;
  return wrapper;
}

/** options.signal as Node will read it, without running a getter or a proxy trap of the app's object. */
function signalOf(options: unknown): object | null {
  if (typeof options !== 'object' || options === null || types.isProxy(options)) return null;
  const own = Object.getOwnPropertyDescriptor(options, 'signal');
  const value: unknown = own !== undefined && 'value' in own ? own.value : undefined;
  return typeof value === 'object' && value !== null && !types.isProxy(value) ? value : null;
}

/** pipeThrough's destination: a TransformStream's writable side (from its state), or an own data property. */
function writableOfPair(pair: unknown): unknown {
  if (typeof pair !== 'object' || pair === null || types.isProxy(pair)) return null;
  const kState = webInternals()!.kState;
  const state = (pair as Record<symbol, { writable?: unknown } | undefined>)[kState];
  if (state !== undefined && state !== null && typeof state === 'object') return state.writable ?? null;
  const own = Object.getOwnPropertyDescriptor(pair, 'writable');
  if (own !== undefined) return 'value' in own ? own.value : null;
  // Node's own pairs keep their TransformStream in a private field: their getter is Node's
  return nodePairs.has(Object.getPrototypeOf(pair)) ? (pair as { writable?: unknown }).writable : null;
}

/** The prototypes of Node's TextEncoderStream, TextDecoderStream, CompressionStream, DecompressionStream. */
const nodePairs = new Set<unknown>();

function notePipe(hook: Hook, source: object, pair: unknown, through: boolean, options: unknown, above: Function): void {
  try {
    const controller = controllerOf(source);
    if (controller !== undefined) recordPipe(hook, controller, canonicalWritable(through ? writableOfPair(pair) : pair) ?? null, signalOf(options), above);
  } catch (error) {
    failed(hook, error);
  }
}

function makePipeTo(original: Function, hook: Hook): Function {
  const wrapper = {
    pipeTo(this: object, dest: unknown, options: unknown) {
      if (!idle(hook)) notePipe(hook, this, dest, false, options, wrapper);
      return original.apply(this, arguments);
    },
  }.pipeTo;
  return wrapper;
}

function makePipeThrough(original: Function, hook: Hook): Function {
  const wrapper = {
    pipeThrough(this: object, pair: unknown, options: unknown) {
      if (!idle(hook)) notePipe(hook, this, pair, true, options, wrapper);
      return original.apply(this, arguments);
    },
  }.pipeThrough;
  return wrapper;
}

/** AbortController#abort(): the site that aborts a pipe's signal (the pipe then cancels its source). */
function abortListener(signalGetter: (this: object) => unknown) {
  return (hook: Hook, controller: object, above: Function): void => {
    let signal: unknown;
    try {
      signal = signalGetter.call(controller);
    } catch {
      // not an AbortController: Node's abort() raises its own error
    }
    if (typeof signal === 'object' && signal !== null) recordAbort(hook, signal, above);
  };
}

export function patchReadable(api: typeof web): void {
  for (const pair of [api.TextEncoderStream, api.TextDecoderStream, api.CompressionStream, api.DecompressionStream]) {
    if (typeof pair === 'function') nodePairs.add(pair.prototype);
  }
  for (const [controller, label, byte] of [
    [api.ReadableStreamDefaultController, 'ReadableStreamDefaultController', false],
    [api.ReadableByteStreamController, 'ReadableByteStreamController', true],
  ] as const) {
    const proto = controller.prototype;
    wrapMethod(proto, 'enqueue', label, makeEnqueue(byte));
    wrapMethod(proto, 'close', label, makeClose(byte));
    wrapMethod(proto, 'error', label, makeError);
    wrapMethod(proto, webInternals()!.kCancel, label, makeCancel);
  }
  wrapMethod(api.ReadableStream.prototype, 'pipeTo', 'ReadableStream', makePipeTo);
  wrapMethod(api.ReadableStream.prototype, 'pipeThrough', 'ReadableStream', makePipeThrough);
  // the intrinsic getter: a subclass's own `signal` getter never runs
  const signalGetter = Object.getOwnPropertyDescriptor(AbortController.prototype, 'signal')?.get;
  if (typeof signalGetter === 'function') onAbort(abortListener(signalGetter));
  patchAbort();
}
