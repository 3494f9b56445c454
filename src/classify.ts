import type { Cause, ViolationKind } from './types';
import type { Frame } from './internal-types';

export interface ClassifyInput {
  kind: ViolationKind;
  /** The late method (write, end, setHeader, ...). */
  method: string;
  /** Constructor name of the stream. */
  type: string;
  /** Frames of the ending call; null when it was not captured (armed policy, agent loaded late). */
  endFrames: readonly Frame[] | null;
  lateFrames: readonly Frame[];
  endFromPipe: boolean;
  lateFromPipe: boolean;
  pipeCount: number;
  /** Ended and late call ran in the same async execution; null when unknown. */
  sameExecution: boolean | null;
  clientDisconnect: boolean;
  /** `res.json(...)` at the end site / late site, when the source could be read. */
  endCall: string | null;
  lateCall: string | null;
  /** Source lines from the end site's line to the late site's line, when both are in one function. */
  between: readonly string[] | null;
  /** headers-after-sent: the call that flushed the headers (writeHead, write, end). */
  headersFlushedBy: string | null;
  /** The late call is the user's own setHeader/writeHead/appendHeader (not a framework's). */
  lateHeaderCall: boolean;
}

export interface Classification {
  cause: Cause;
  hint: string;
}

function receiverOf(call: string | null, type: string): string {
  const dot = call?.indexOf('.') ?? -1;
  if (call !== null && dot > 0) return call.slice(0, dot);
  return /Response$/.test(type) ? 'res' : 'stream';
}

function sameFunction(a: Frame, b: Frame): boolean {
  if (a.file !== b.file || b.line < a.line) return false;
  if (a.fnLine > 0 && b.fnLine > 0) return a.fnLine === b.fnLine && a.fnColumn === b.fnColumn;
  return a.fn !== null && a.fn === b.fn;
}

/** Did the late call run synchronously inside the HTTP request dispatch (no tick in between)? */
function inRequestDispatch(frames: readonly Frame[]): boolean {
  return frames.some((f) => f.kind === 'internal' && (f.file === 'node:_http_server' || f.file.endsWith('http2/compat')));
}

function viaRouter(frames: readonly Frame[]): boolean {
  return frames.some((f) => f.kind === 'dependency' && (f.fn === 'next' || /[/\\]node_modules[/\\](router|express|connect)[/\\]/.test(f.file)));
}

function viaEmitter(frames: readonly Frame[]): boolean {
  const firstUser = frames.findIndex((f) => f.kind === 'user');
  return firstUser !== -1 && frames.slice(firstUser + 1, firstUser + 4).some((f) => f.file === 'node:events');
}

/** A `}` closing the end site's block before the late line: the branch fell through. */
function leftABlock(lines: readonly string[]): boolean {
  const first = lines[0] ?? '';
  if (/\bif\s*\(|\belse\b/.test(first.replace(/\/\/.*$/, ''))) return true;
  let depth = 0;
  for (const line of lines.slice(0, -1)) {
    const code = line.replace(/\/\/.*$/, '').replace(/(['"`])(?:\\.|(?!\1).)*\1/g, '');
    for (const ch of code) {
      if (ch === '{') depth++;
      else if (ch === '}' && --depth < 0) return true;
    }
  }
  return false;
}

/** Turns the facts of a violation into one of the seed causes and a fix hint. Pure. */
export function classify(input: ClassifyInput): Classification {
  const { kind, endFrames, lateFrames } = input;
  const endCall = input.endCall ?? 'the first response';
  const target = receiverOf(input.lateCall ?? input.endCall, input.type);
  const lateCall = input.lateCall ?? `the late ${target}.${input.method}()`;

  if (input.clientDisconnect) {
    return {
      cause: 'client-disconnect',
      hint: `the client disconnected before ${lateCall}: stop on ${target}.on('close', ...) or check ${target}.destroyed before writing`,
    };
  }
  if (kind === 'write-after-destroy') {
    return { cause: 'destroyed', hint: `${target} was destroyed before ${lateCall}: check ${target}.destroyed before writing` };
  }
  if (kind === 'double-end' && (input.endFromPipe || input.lateFromPipe)) {
    return { cause: 'pipe-and-end', hint: 'the pipe ends the destination when the source ends: remove the explicit end(), or pipe(dest, { end: false })' };
  }
  if (input.pipeCount >= 2 && (input.endFromPipe || input.lateFromPipe)) {
    return {
      cause: 'pipe-multiple-sources',
      hint: 'several sources are piped into one destination and the first to finish ends it: pipe with { end: false } and end once, after all sources',
    };
  }
  if (input.endFromPipe) {
    return {
      cause: 'pipe-ended',
      hint: `the pipe ended ${target} before ${lateCall}: use stream.pipeline(...) and write in its callback, or pipe(dest, { end: false })`,
    };
  }
  if (kind === 'double-end') {
    return { cause: 'double-end', hint: `end() is called twice: keep one ${endCall.replace('(...)', '()')} (guard with ${target}.writableEnded)` };
  }

  if (kind === 'headers-after-sent' && input.lateHeaderCall && input.headersFlushedBy !== null) {
    const flusher = input.endCall ?? `${target}.${input.headersFlushedBy}(...)`;
    return {
      cause: 'headers-already-sent',
      hint: `${flusher} already sent the headers: set them before it, or check ${target}.headersSent before ${lateCall}`,
    };
  }

  const endUser = endFrames?.find((f) => f.kind === 'user') ?? null;
  const lateUser = lateFrames.find((f) => f.kind === 'user') ?? null;
  const synchronous = input.sameExecution ?? inRequestDispatch(lateFrames);

  if (endUser !== null && lateUser !== null && sameFunction(endUser, lateUser)) {
    if (input.between === null || leftABlock(input.between)) {
      return { cause: 'missing-return', hint: `return after ${endCall}` };
    }
    if (!/Response$/.test(input.type)) {
      return { cause: 'missing-return', hint: `${lateCall} runs after ${endCall} in the same function: write before ending, or return after ${endCall}` };
    }
    return { cause: 'double-send', hint: `send one response per request: remove or guard the second ${lateCall}` };
  }
  if (synchronous) {
    if (endUser === null) {
      // armed first report: the end site is unknown, the late call ran in the same dispatch
      return { cause: 'missing-return', hint: `a response was already sent in this request: return after sending it, before ${lateCall}` };
    }
    if (viaRouter(lateFrames)) {
      return { cause: 'next-after-send', hint: `return after ${endCall} instead of calling next(): a later handler responded again` };
    }
    return { cause: 'missing-return', hint: `return after ${endCall}` };
  }
  if (viaEmitter(lateFrames)) {
    return {
      cause: 'late-subscriber',
      hint: `a listener outlived the response: remove it on ${target}.on('close', ...) before ${lateCall} can run`,
    };
  }
  return {
    cause: 'late-callback',
    hint: `a callback responded after ${endCall}: check ${target}.writableEnded before ${lateCall}, or cancel the pending work when the response ends`,
  };
}
