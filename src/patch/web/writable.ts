import type * as web from 'node:stream/web';
import { FIRST_DESTROY, FIRST_END } from '../../internal-types';
import { recordOf } from '../record';
import { idle, wrapMethod, type Hook } from '../wrap';
import { cancelledReadableSide, recordCancel, recordWebEnd } from './ends';
import { ERRORED, OPEN, UNKNOWN, canonicalWritable, streamOf, webInternals, writableLocked, writableStanding, type WritableStanding } from './internals';
import { REJECTING, lateWebCall, webKind, type WebLate } from './late';

// WritableStreamDefaultWriter (and an unlocked WritableStream's own close/abort): Node rejects a
// late write() or close() — an unawaited one is an unhandled rejection, which ends the process.
// The ends are kept on the WritableStream: writers are released and acquired again.

function writableLate(target: object, stream: object, standing: WritableStanding, method: string): WebLate {
  // errored by a cancel of its TransformStream's readable side: that cancel is the end
  const readableSide = standing === ERRORED ? cancelledReadableSide(stream) : undefined;
  const holder = readableSide ?? stream;
  const record = recordOf(holder);
  return {
    kind: webKind(record, standing, method === 'close'),
    target,
    method,
    holder,
    record,
    side: 'writer',
    stateEnd: standing === ERRORED ? null : 'close',
    erroredInside: standing === ERRORED && readableSide === undefined,
    message:
      standing === ERRORED ? 'WritableStream is errored' : method === 'close' ? 'Failure to close WritableStream' : 'WritableStream is closed',
  };
}

/** The late branch, out of the wrappers (see readable.ts). */
function lateWritable(hook: Hook, self: object, stream: object, standing: WritableStanding, method: string, original: Function, args: unknown[], above: Function): unknown {
  return lateWebCall(hook, () => writableLate(self, stream, standing, method), REJECTING, self, original, args, above);
}

/** writer.write(chunk): takes its original's one parameter (see readable.ts). */
function makeWrite(original: Function, hook: Hook): Function {
  const kState = webInternals()!.kState;
  const closeFlag = webInternals()!.closeFlag;
  const wrapper = {
    write(this: object, chunk?: unknown) {
      // the hot path first: an open stream with no close queued (Node 24+ keeps that as a flag)
      if (closeFlag) {
        const w = (this as Record<symbol, any> | undefined)?.[kState]?.stream?.[kState];
        if (w?.state === 'writable' && w.closeQueuedOrInFlight === false) return original.call(this, chunk);
      }
      if (idle(hook)) return original.call(this, chunk);
      // a released writer: Node's own rejection, untouched
      const stream = streamOf(this);
      const standing = stream === undefined ? UNKNOWN : writableStanding(stream);
      if (standing <= OPEN) return original.call(this, chunk);
      return lateWritable(hook, this, stream!, standing, 'write', original, [chunk], wrapper);
    },
  }.write;
  return wrapper;
}

/** writer.close(), or an unlocked WritableStream's own close() (a locked one's is rejected by Node untouched). */
function makeClose(onStream: boolean) {
  return (original: Function, hook: Hook): Function => {
    const wrapper = {
      close(this: object) {
        if (idle(hook)) return original.call(this);
        const stream = onStream ? canonicalWritable(this) : streamOf(this);
        if (stream === undefined || (onStream && writableLocked(stream))) return original.call(this);
        const standing = writableStanding(stream);
        if (standing === UNKNOWN) return original.call(this);
        if (standing === OPEN) {
          recordWebEnd(hook, stream, FIRST_END, 'close', wrapper);
          return original.call(this);
        }
        return lateWritable(hook, this, stream, standing, 'close', original, [], wrapper);
      },
    }.close;
    return wrapper;
  };
}

function makeAbort(onStream: boolean) {
  return (original: Function, hook: Hook): Function => {
    const wrapper = {
      abort(this: object, reason?: unknown) {
        if (!idle(hook)) {
          const stream = onStream ? canonicalWritable(this) : streamOf(this);
          if (stream !== undefined && !(onStream && writableLocked(stream)) && writableStanding(stream) === OPEN) {
            recordWebEnd(hook, stream, FIRST_DESTROY, 'abort', wrapper);
          }
        }
        return original.call(this, reason);
      },
    }.abort;
    return wrapper;
  };
}

/**
 * WritableStreamDefaultController#error(): the sink's own error, or Node's Writable.toWeb
 * adapter erroring the web side when its Node stream closed (inside an HTTP response's 'close'
 * when the client went away).
 */
function makeControllerError(original: Function, hook: Hook): Function {
  const wrapper = {
    error(this: object, reason?: unknown) {
      if (!idle(hook)) {
        const stream = streamOf(this);
        if (stream !== undefined && writableStanding(stream) === OPEN) recordCancel(hook, stream, 'error', reason, wrapper);
      }
      return original.call(this, reason);
    },
  }.error;
  return wrapper;
}

export function patchWritableStreams(api: typeof web): void {
  const writer = api.WritableStreamDefaultWriter.prototype;
  wrapMethod(writer, 'write', 'WritableStreamDefaultWriter', makeWrite);
  wrapMethod(writer, 'close', 'WritableStreamDefaultWriter', makeClose(false));
  wrapMethod(writer, 'abort', 'WritableStreamDefaultWriter', makeAbort(false));
  const stream = api.WritableStream.prototype;
  wrapMethod(stream, 'close', 'WritableStream', makeClose(true));
  wrapMethod(stream, 'abort', 'WritableStream', makeAbort(true));
  wrapMethod(api.WritableStreamDefaultController.prototype, 'error', 'WritableStreamDefaultController', makeControllerError);
}
