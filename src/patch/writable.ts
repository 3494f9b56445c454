import { executionAsyncId } from 'node:async_hooks';
import { Duplex, Readable, Writable } from 'node:stream';
import { FIRST_DESTROY, FIRST_END, FIRST_NONE, type StreamRecord } from '../internal-types';
import { captureStack } from '../callsite';
import { lateKind } from '../detect';
import { ensureRecord, recordOf } from '../state';
import { runtime, shouldCapture } from '../runtime';
import { callbackLater, endCallback } from '../mode';
import { DROP, THROW, decideLate, errorFor, takeThrow } from './late';
import { failed, wrapMethod, type Hook } from './wrap';

type WritableState = { ending?: boolean; destroyed?: boolean };
type AnyWritable = Writable & { _writableState?: WritableState };

/**
 * Records the first end or destroy of a stream (site captured per the capture policy) and
 * returns the record. Armed policy with nothing armed and no tracing: keeps nothing at all
 * (Node's own flags still tell ended from destroyed at the late call).
 */
export function recordFirst(
  stream: object,
  first: typeof FIRST_END | typeof FIRST_DESTROY,
  method: string,
  above: Function,
): StreamRecord | undefined {
  const capture = shouldCapture(stream);
  const context = runtime.captureContext === null ? undefined : runtime.captureContext();
  if (!capture && context === undefined) return undefined;
  const record = ensureRecord(stream);
  if (record === undefined || record.first !== FIRST_NONE) return record;
  record.first = first;
  record.endMethod = method;
  record.endAsyncId = executionAsyncId();
  record.endTime = Date.now();
  if (capture) record.endCapture = captureStack(runtime.config.stackDepth, above);
  record.endContext = context;
  return record;
}

function hasChunk(chunk: unknown): boolean {
  return chunk !== undefined && chunk !== null && typeof chunk !== 'function';
}

function makeWrite(original: Function, hook: Hook): Function {
  return function write(this: AnyWritable, chunk: unknown, encoding: unknown, cb: unknown) {
    const ws = this._writableState;
    if (ws === undefined || hook.disabled || runtime.reporting || !(ws.ending || ws.destroyed)) {
      return original.apply(this, arguments);
    }
    const record = recordOf(this);
    const kind = lateKind(ws.ending === true, record);
    const action = decideLate(hook, { kind, target: this, method: 'write', record }, write);
    if (action === DROP) {
      callbackLater(typeof encoding === 'function' ? encoding : cb, errorFor(kind));
      return false;
    }
    if (action === THROW) throw takeThrow();
    return original.apply(this, arguments);
  };
}

function makeEnd(original: Function, hook: Hook): Function {
  return function end(this: AnyWritable, chunk: unknown, encoding: unknown, cb: unknown) {
    const ws = this._writableState;
    if (ws === undefined || hook.disabled || runtime.reporting) return original.apply(this, arguments);
    if (!(ws.ending || ws.destroyed)) {
      try {
        recordFirst(this, FIRST_END, 'end', end);
      } catch (error) {
        failed(hook, error);
      }
      return original.apply(this, arguments);
    }
    const withChunk = hasChunk(chunk);
    // A bare end() on a destroyed, never-ended stream loses nothing: Node answers its callback.
    if (!withChunk && !ws.ending) return original.apply(this, arguments);
    const record = recordOf(this);
    const kind = withChunk ? lateKind(ws.ending === true, record) : 'double-end';
    const action = decideLate(hook, { kind, target: this, method: 'end', record }, end);
    if (action === DROP) {
      callbackLater(endCallback(chunk, encoding, cb), errorFor(kind));
      return this;
    }
    if (action === THROW) throw takeThrow();
    return original.apply(this, arguments);
  };
}

function makeDestroy(original: Function, hook: Hook): Function {
  return function destroy(this: AnyWritable) {
    const ws = this._writableState;
    if (ws !== undefined && !hook.disabled && !runtime.reporting && !ws.destroyed) {
      try {
        if (!ws.ending) recordFirst(this, FIRST_DESTROY, 'destroy', destroy);
        else {
          // already ended: keep only when the connection went away (for client-disconnect reports)
          const record = recordOf(this);
          if (record !== undefined && record.endTime === 0) record.endTime = Date.now();
        }
      } catch (error) {
        failed(hook, error);
      }
    }
    return original.apply(this, arguments);
  };
}

export function patchWritable(): void {
  // Duplex has its own copies of write/end (Node 20–26): patching Writable alone would miss
  // Transform, PassThrough, net.Socket and zlib streams.
  for (const [proto, label] of [
    [Writable.prototype, 'Writable'],
    [Duplex.prototype, 'Duplex'],
  ] as const) {
    wrapMethod(proto, 'write', label, makeWrite);
    wrapMethod(proto, 'end', label, makeEnd);
  }
  wrapMethod(Writable.prototype, 'destroy', 'Writable', makeDestroy);
  // Duplex.prototype.destroy is its own copy of Writable's on Node 20.x later lines, 22+;
  // on early 20.x Duplex inherits Readable.prototype.destroy (pure Readables pass through:
  // they have no _writableState).
  if (Object.prototype.hasOwnProperty.call(Duplex.prototype, 'destroy')) wrapMethod(Duplex.prototype, 'destroy', 'Duplex', makeDestroy);
  else wrapMethod(Readable.prototype, 'destroy', 'Readable', makeDestroy);
}
