import type { Writable } from 'node:stream';
import type { ViolationKind } from '../types';
import { FIRST_DESTROY, FIRST_END, type StreamRecord } from '../internal-types';
import { lateKind } from '../core/detect';
import { END, WRITE, lateCall } from './late';
import { recordClose, recordEnd, recordOf } from './record';
import { afterPeerFIN, isWriteAfterFIN, lateWriteAfterFIN } from './socket';
import { failed, idle, shareWrapper, wrapMethod, type Hook } from './wrap';

type WritableState = { ending?: boolean; destroyed?: boolean };
type AnyWritable = Writable & { _writableState?: WritableState };

/** A stream whose record says the client went away (a Readable.toWeb body cancelled by its server adapter). */
function disconnected(kind: ViolationKind, record: StreamRecord | undefined): { clientDisconnect: boolean; closedAt: number } {
  const clientDisconnect = kind === 'write-after-destroy' && record?.clientDisconnect === true;
  return { clientDisconnect, closedAt: clientDisconnect ? record!.endTime : 0 };
}

function hasChunk(chunk: unknown): boolean {
  return chunk !== undefined && chunk !== null && typeof chunk !== 'function';
}

function makeWrite(original: Function, hook: Hook): Function {
  return function write(this: AnyWritable) {
    const ws = this._writableState;
    if (ws === undefined || idle(hook) || !(ws.ending || ws.destroyed)) return original.apply(this, arguments);
    const record = recordOf(this);
    const kind = lateKind(ws.ending === true, record);
    const facts = { kind, target: this, method: 'write', record, ...disconnected(kind, record) };
    return lateCall(hook, facts, WRITE, this, original, arguments, write);
  };
}

function makeEnd(original: Function, hook: Hook): Function {
  return function end(this: AnyWritable, chunk: unknown) {
    const ws = this._writableState;
    if (ws === undefined || idle(hook)) return original.apply(this, arguments);
    if (!(ws.ending || ws.destroyed)) {
      recordEnd(hook, this, FIRST_END, 'end', end);
      return original.apply(this, arguments);
    }
    const withChunk = hasChunk(chunk);
    // A bare end() on a destroyed, never-ended stream loses nothing: Node answers its callback.
    if (!withChunk && !ws.ending) return original.apply(this, arguments);
    const record = recordOf(this);
    const kind = withChunk ? lateKind(ws.ending === true, record) : 'double-end';
    const facts = { kind, target: this, method: 'end', record, ...disconnected(kind, record), ...afterPeerFIN(this, record) };
    return lateCall(hook, facts, END, this, original, arguments, end);
  };
}

/** net.Socket's writeAfterFIN refusing a write calls destroy(EPIPE): the late write, or null (socket.ts). */
function finWrite(hook: Hook, socket: object, error: object): Function | null {
  try {
    return isWriteAfterFIN(socket, error);
  } catch (e) {
    failed(hook, e);
    return null;
  }
}

function makeDestroy(original: Function, hook: Hook): Function {
  return function destroy(this: AnyWritable, error: unknown) {
    const ws = this._writableState;
    if (typeof error === 'object' && error !== null && ws?.ending === true && !idle(hook)) {
      const writeAfterFIN = finWrite(hook, this, error);
      if (writeAfterFIN !== null) return lateWriteAfterFIN(hook, this, original, arguments, writeAfterFIN);
    }
    if (ws !== undefined && !idle(hook) && !ws.destroyed) {
      // already ended: keep only when the connection went away (for client-disconnect reports)
      if (!ws.ending) recordEnd(hook, this, FIRST_DESTROY, 'destroy', destroy);
      else recordClose(hook, this);
    }
    return original.apply(this, arguments);
  };
}

export function patchWritable(): void {
  const { Duplex, Readable, Writable } = require('node:stream') as typeof import('node:stream');
  // Duplex has its own write/end (Node 20–26), Writable's own functions: patching Writable alone
  // would miss Transform, PassThrough, net.Socket and zlib streams. They keep one wrapper, so
  // they stay one function.
  for (const [method, make] of [
    ['write', makeWrite],
    ['end', makeEnd],
  ] as const) {
    wrapMethod(Writable.prototype, method, 'Writable', make);
    if (!shareWrapper(Duplex.prototype, method, Writable.prototype, method)) wrapMethod(Duplex.prototype, method, 'Duplex', make);
  }
  wrapMethod(Writable.prototype, 'destroy', 'Writable', makeDestroy);
  // Duplex.prototype.destroy is Writable's on Node 20.x later lines, 22+; on early 20.x Duplex
  // inherits Readable.prototype.destroy (pure Readables pass through: they have no _writableState).
  if (!Object.prototype.hasOwnProperty.call(Duplex.prototype, 'destroy')) wrapMethod(Readable.prototype, 'destroy', 'Readable', makeDestroy);
  else if (!shareWrapper(Duplex.prototype, 'destroy', Writable.prototype, 'destroy')) wrapMethod(Duplex.prototype, 'destroy', 'Duplex', makeDestroy);
}
