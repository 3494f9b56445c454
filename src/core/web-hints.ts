import type { HintContext, Vocabulary } from '../internal-types';

/** Which side of a web stream made the late call: the producer's controller, or a writer. */
export type WebSide = 'controller' | 'writer';

/** What is known of the first end when the report is built. */
export interface WebEnd {
  side: WebSide;
  /** close, error, cancel, abort, terminate; null when endguard did not see it. */
  endMethod: string | null;
  /** The cancel or abort reason's code or name (never its message). */
  reason: string | null;
  /** A library that cancelled when no code of the app did (see core/web-cancel.ts). */
  canceller: string | null;
  /** A TransformStream's controller whose writable side was closed or aborted (by a writer). */
  endOnWritable?: boolean;
  /** No call ended it: its own source, sink or transformer threw or rejected. */
  erroredInside?: boolean;
}

function cancelledBy(end: WebEnd): string {
  const parts: string[] = [];
  if (end.canceller !== null) parts.push(`by ${end.canceller}`);
  if (end.reason !== null) parts.push(`reason: ${end.reason}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

/** The end call when the source line could not be read. */
function firstCall(end: WebEnd): string {
  switch (end.endMethod) {
    case 'close':
      return end.side === 'writer' || end.endOnWritable === true ? 'writer.close()' : 'controller.close()';
    case 'terminate':
      return 'controller.terminate()';
    case 'error':
      return 'controller.error()';
    case 'cancel':
      return "the consumer's cancel()";
    case 'abort':
      return end.side === 'writer' || end.endOnWritable === true ? 'writer.abort()' : 'the AbortSignal';
    default:
      return end.side === 'writer' ? 'the close or abort' : 'the close or cancel';
  }
}

/** What stops a producer, in the side's terms. */
function stopAdvice(end: WebEnd, c: HintContext): string {
  if (end.side === 'writer') return `check ${c.target}.desiredSize === null (errored) before writing, and stop when ${c.target}.closed rejects`;
  return "listen for the consumer's cancel(reason) in the underlying source and stop producing there";
}

function destroyed(end: WebEnd): (c: HintContext) => string {
  return (c) => {
    if (end.erroredInside === true) {
      const stop = end.side === 'writer' ? `stop when ${c.target}.closed rejects` : `check ${c.target}.desiredSize === null (errored) before enqueueing`;
      return `the stream errored from inside (its source, sink or transformer threw or rejected) before ${c.lateCall}: handle that failure where it is thrown, and ${stop}`;
    }
    switch (end.endMethod) {
      case 'cancel':
        return `the consumer cancelled the stream${cancelledBy(end)} before ${c.lateCall}: ${stopAdvice(end, c)}`;
      case 'abort':
        if (end.endOnWritable === true) {
          return `the writable side was aborted${cancelledBy(end)} before ${c.lateCall}: check ${c.target}.desiredSize === null (errored) before enqueueing`;
        }
        return end.side === 'writer'
          ? `the stream was aborted${cancelledBy(end)} before ${c.lateCall}: ${stopAdvice(end, c)}`
          : `the pipeTo() was aborted by its AbortSignal${cancelledBy(end)}, which cancelled the stream before ${c.lateCall}: stop producing on the signal's 'abort' event (check signal.aborted), or in the source's cancel(reason)`;
      case 'error':
        return end.side === 'writer'
          ? `the stream errored${cancelledBy(end)} before ${c.lateCall}: ${stopAdvice(end, c)}`
          : `${c.endCall} errored the stream before ${c.lateCall}: check ${c.target}.desiredSize === null (errored) before enqueueing`;
      default:
        return `the stream was cancelled or errored before ${c.lateCall}: ${stopAdvice(end, c)}`;
    }
  };
}

/**
 * The hints of one violation on a web stream, in web-streams terms: `if (closed) return` and
 * `desiredSize === null`, the source's cancel(reason), the AbortSignal. Pure.
 */
export function webVocabulary(end: WebEnd): Vocabulary {
  const writer = end.side === 'writer';
  const verb = writer ? 'wrote' : 'enqueued';
  return {
    receiver: writer ? 'writer' : 'controller',
    response: false,
    firstCall: firstCall(end),
    hints: {
      'client-disconnect': (c) =>
        writer
          ? c.target === 'writer'
            ? `the HTTP client disconnected and the response closed before ${c.lateCall}: stop writing when ${c.target}.closed rejects (or on the response's 'close')`
            : // a framework's stream object (Hono's streamSSE() / stream(): its closed is a boolean, set only by close())
              `the HTTP client disconnected and the response closed before ${c.lateCall}: stop writing when it aborts (Hono's stream helpers: ${c.target}.onAbort(...), ${c.target}.aborted; a WritableStream writer: when writer.closed rejects)`
          : `the HTTP client disconnected and the server cancelled the body stream before ${c.lateCall}: ${stopAdvice(end, c)} (or check a flag set there)`,
      destroyed: destroyed(end),
      'double-end': (c) =>
        `${c.method}() is called twice: keep one ${c.target}.${c.method}() call, or set a flag where you first call it and check it (if (closed) return)`,
      'missing-return': (c) => `return after ${c.endCall}`,
      'write-after-own-end': (c) =>
        `${c.lateCall} runs after ${c.endCall} in the same function: ${writer ? 'write' : 'enqueue'} before closing, or return after ${c.endCall}`,
      'missing-return-unknown-end': (c) => `the stream was already closed: check a closed flag (if (closed) return) before ${c.lateCall}`,
      'late-subscriber': (c) => `a listener outlived the stream: remove it where you call ${c.endCall}, before ${c.lateCall} can run`,
      'late-callback': (c) =>
        `a callback ${verb} after ${c.endCall}: set a flag where you close and check it (if (closed) return) before ${c.lateCall}, or stop the pending work there`,
    },
  };
}
