import { FIRST_END, type Vocabulary } from '../internal-types';
import type { ViolationKind } from '../types';
import { agentInstanceMethods, asReporter } from '../flags';
import { END, WRITE, lateCall, type LateShape } from './late';
import { capturing } from './capture';
import { headersFlushedByEnd, recordEnd, recordHeaders, recordOf } from './record';
import { responseFacts } from './response';
import { failed, idle, wrapExported, type Hook } from './wrap';

// The `compression` middleware (1.x) replaces res.write and res.end ON THE INSTANCE, per
// request, before calling next(). Once it compresses a response, the user's res.end() only
// ends the zlib stream (its own `ended` flag set; Node's res.end runs later, from the zlib
// stream's 'end'), and every later res.write()/res.end() returns false without reaching
// Node: the data is lost silently and no prototype wrapper sees the call. When it does not
// compress (filtered, below the threshold, HEAD, already encoded), its methods call Node's
// (the prototype wrappers report those late calls as for any response).
// endguard wraps on-headers' export, which compression's middleware calls right after assigning
// those two instance methods, and then the methods: a late call while compression swallows it
// is reported here.

type Res = { write: Function; end: Function; destroyed?: boolean; finished?: boolean; headersSent?: boolean };

const SWALLOWED_MESSAGE = 'write after end (dropped by compression)';

/** compression drops the call itself and returns false: enforce returns the same, strict throws. */
const SWALLOWED: LateShape = { drops: new Set<ViolationKind>(['write-after-end']), dropped: () => false };

const RESPONSE: Vocabulary = { receiver: 'res', response: true };

/** Wraps compression's own res.write/res.end of this response (a closure per response, as compression's own). */
function watch(hook: Hook, res: Res): void {
  if (!Object.prototype.hasOwnProperty.call(res, 'write') || !Object.prototype.hasOwnProperty.call(res, 'end')) return;
  const compressionWrite = res.write;
  const compressionEnd = res.end;
  if (compressionWrite.name !== 'write' || compressionEnd.name !== 'end') return;
  /** compression took the response: its res.end() ended the zlib stream, and it drops what follows. */
  let swallowing = false;

  function late(self: Res, method: 'write' | 'end', args: IArguments, original: Function, above: Function): unknown {
    const chunk: unknown = args[0];
    const kind: ViolationKind = method === 'end' && !(Boolean(chunk) && typeof chunk !== 'function') ? 'double-end' : 'write-after-end';
    const facts = { kind, target: self, method, record: recordOf(self), code: null, message: SWALLOWED_MESSAGE, vocabulary: RESPONSE };
    return lateCall(hook, facts, SWALLOWED, self, original, args, above);
  }

  /**
   * The client went away: compression's 'close' listener destroyed its zlib stream, so the
   * write would be reported on that Gzip, with compression's destroy() as end site. It is the
   * response's: reported here, and the call runs with endguard's wrappers passing through.
   */
  function afterDisconnect(self: Res, method: 'write' | 'end', args: IArguments, original: Function, above: Function): unknown {
    const facts = responseFacts(self, self.finished === true, true, method, false);
    const quiet = function (this: Res) {
      const callArgs = arguments;
      return asReporter(() => original.apply(this, callArgs));
    };
    return lateCall(hook, facts, method === 'write' ? WRITE : END, self, quiet, args, above);
  }

  const watchedWrite = function write(this: Res, _chunk: unknown, _encoding: unknown): unknown {
    if (idle(hook)) return compressionWrite.apply(this, arguments);
    if (swallowing) return late(this, 'write', arguments, compressionWrite, watchedWrite);
    if (this.destroyed === true) return afterDisconnect(this, 'write', arguments, compressionWrite, watchedWrite);
    // the first write flushes the headers through compression's and on-headers' own frames:
    // this call is their site (the prototype's writeHead finds it recorded)
    if (this.headersSent !== true && capturing()) recordHeaders(hook, this, 'write', watchedWrite);
    return compressionWrite.apply(this, arguments);
  };
  const watchedEnd = function end(this: Res, chunk: unknown, _encoding: unknown): unknown {
    if (idle(hook)) return compressionEnd.apply(this, arguments);
    if (swallowing) return late(this, 'end', arguments, compressionEnd, watchedEnd);
    let result: unknown;
    if (this.destroyed === true && Boolean(chunk) && typeof chunk !== 'function') {
      result = afterDisconnect(this, 'end', arguments, compressionEnd, watchedEnd);
    } else {
      const flushes = this.headersSent !== true;
      const record = recordEnd(hook, this, FIRST_END, 'end', watchedEnd);
      if (flushes) headersFlushedByEnd(record);
      result = compressionEnd.apply(this, arguments);
    }
    // compressing, compression returns the zlib stream's end(); otherwise Node's res.end()
    // (the response), or false when it had already ended
    if (result !== this && result !== false) swallowing = true;
    return result;
  };
  res.write = watchedWrite;
  res.end = watchedEnd;
  agentInstanceMethods.add(watchedWrite);
  agentInstanceMethods.add(watchedEnd);
  watchFlush(res);
}

/**
 * compression's res.flush() (for SSE) writes to its zlib stream; after a client disconnect that
 * stream is destroyed, and the flush would be reported as a second, Gzip-typed violation of the
 * write just reported on the response. A flush carries no data of its own: it passes through.
 */
function watchFlush(res: Res & { flush?: Function }): void {
  const compressionFlush = Object.prototype.hasOwnProperty.call(res, 'flush') ? res.flush : undefined;
  if (typeof compressionFlush !== 'function' || compressionFlush.name !== 'flush') return;
  res.flush = function flush(this: Res) {
    if (this.destroyed !== true) return compressionFlush.apply(this, arguments);
    const args = arguments;
    return asReporter(() => compressionFlush.apply(this, args));
  };
  agentInstanceMethods.add(res.flush);
}

function makeOnHeaders(original: Function, hook: Hook): Function {
  return function onHeaders(this: unknown, res: unknown, listener: unknown) {
    // compression's middleware assigned res.write/res.end just before, and calls next() just after
    if (!idle(hook) && typeof listener === 'function' && listener.name === 'onResponseHeaders' && typeof res === 'object' && res !== null) {
      try {
        watch(hook, res as Res);
      } catch (error) {
        failed(hook, error);
      }
    }
    return original.apply(this, arguments);
  };
}

/**
 * Patches on-headers' export (a function, which its wrapper replaces): compression's middleware
 * calls it once per response, with its own `onResponseHeaders` listener. This is required by
 * compression's index.js, so it is seen even when an ES module imports compression (Node's ESM
 * loader evaluates the CommonJS entry without require(): the export itself is never seen).
 */
export function patchOnHeaders(_file: string, exports: unknown): unknown {
  return typeof exports === 'function' ? wrapExported(exports, 'onHeaders', 'on-headers', makeOnHeaders) : undefined;
}
