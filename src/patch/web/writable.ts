import type * as web from 'node:stream/web';
import { FIRST_DESTROY, FIRST_END } from '../../internal-types';
import { recordOf } from '../record';
import { idle, wrapMethod, type Hook } from '../wrap';
import { recordCancel, recordWebEnd } from './ends';
import { ERRORED, OPEN, canonicalWritable, streamOf, writableLocked, writableStanding, type WritableStanding } from './internals';
import { REJECTING, lateWebCall, webKind, type WebLate } from './late';

// WritableStreamDefaultWriter (and an unlocked WritableStream's own close/abort): Node rejects a
// late write() or close() — an unawaited one is an unhandled rejection, which ends the process.
// The ends are kept on the WritableStream: writers are released and acquired again.

function writableLate(target: object, stream: object, standing: WritableStanding, method: string): WebLate {
  const record = recordOf(stream);
  return {
    kind: webKind(record, standing, method === 'close'),
    target,
    method,
    holder: stream,
    record,
    side: 'writer',
    stateEnd: standing === ERRORED ? null : 'close',
    message:
      standing === ERRORED ? 'WritableStream is errored' : method === 'close' ? 'Failure to close WritableStream' : 'WritableStream is closed',
  };
}

/** writer.write() / writer.close(): `streamOfTarget` is how the target reaches its stream. */
const makeLate = (method: 'write' | 'close', onStream: boolean) => (original: Function, hook: Hook): Function => {
  const wrapper = {
    [method](this: object) {
      if (idle(hook)) return original.apply(this, arguments);
      const stream = onStream ? canonicalWritable(this) : streamOf(this);
      // a released writer, or a locked stream's own close(): Node's own rejection, untouched
      if (stream === undefined || (onStream && writableLocked(stream))) return original.apply(this, arguments);
      const standing = writableStanding(stream);
      if (standing === OPEN) {
        if (method === 'close') recordWebEnd(hook, stream, FIRST_END, 'close', wrapper);
        return original.apply(this, arguments);
      }
      return lateWebCall(hook, () => writableLate(this, stream, standing, method), REJECTING, this, original, arguments, wrapper);
    },
  }[method]!;
  return wrapper;
};

function makeAbort(onStream: boolean) {
  return (original: Function, hook: Hook): Function => {
    const wrapper = {
      abort(this: object) {
        if (!idle(hook)) {
          const stream = onStream ? canonicalWritable(this) : streamOf(this);
          if (stream !== undefined && !(onStream && writableLocked(stream)) && writableStanding(stream) === OPEN) {
            recordWebEnd(hook, stream, FIRST_DESTROY, 'abort', wrapper);
          }
        }
        return original.apply(this, arguments);
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
      return original.apply(this, arguments);
    },
  }.error;
  return wrapper;
}

export function patchWritableStreams(api: typeof web): void {
  const writer = api.WritableStreamDefaultWriter.prototype;
  wrapMethod(writer, 'write', 'WritableStreamDefaultWriter', makeLate('write', false));
  wrapMethod(writer, 'close', 'WritableStreamDefaultWriter', makeLate('close', false));
  wrapMethod(writer, 'abort', 'WritableStreamDefaultWriter', makeAbort(false));
  const stream = api.WritableStream.prototype;
  wrapMethod(stream, 'close', 'WritableStream', makeLate('close', true));
  wrapMethod(stream, 'abort', 'WritableStream', makeAbort(true));
  wrapMethod(api.WritableStreamDefaultController.prototype, 'error', 'WritableStreamDefaultController', makeControllerError);
}
