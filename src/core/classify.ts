import type { Cause, ViolationKind } from '../types';
import type { Frame, HintContext, HintId, Vocabulary } from '../internal-types';

export interface ClassifyInput {
  kind: ViolationKind;
  /** The late method (write, end, setHeader, enqueue, ...). */
  method: string;
  /** How this family's objects are named in hints; see Vocabulary. */
  vocabulary: Vocabulary;
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
  /** The end site is a hand-off: the user's call that gave the response to a framework, which ended it later. */
  endHandedOff: boolean;
  /** The router ran a handler for the response after it was sent (a middleware's next() after responding). */
  routedAfterEnd: boolean;
}

export interface Classification {
  cause: Cause;
  hint: string;
}

/** The node-stream and http wording: every family's fallback. */
const HINTS: Record<HintId, (c: HintContext) => string> = {
  'client-disconnect': (c) =>
    `the client disconnected before ${c.lateCall}: stop on ${c.target}.on('close', ...) or check ${c.target}.destroyed before writing`,
  destroyed: (c) => `${c.target} was destroyed before ${c.lateCall}: check ${c.target}.destroyed before writing`,
  'pipe-and-end': () => 'the pipe ends the destination when the source ends: remove the explicit end(), or pipe(dest, { end: false })',
  'ended-under-pipe': (c) =>
    `${c.endCall} ended ${c.target} while a pipe was still writing into it: unpipe or destroy the source before ending ${c.target}, or use stream.pipeline(...) and end in its callback`,
  'pipe-multiple-sources': () =>
    'several sources are piped into one destination and the first to finish ends it: pipe with { end: false } and end once, after all sources',
  'pipe-ended': (c) =>
    `the pipe ended ${c.target} when its source finished, before ${c.lateCall}: write before that, or pipe with { end: false } (pipeline() from stream/promises: { end: false }) and end ${c.target} yourself after the last write`,
  'double-end': (c) => `end() is called twice: keep one ${c.endCall.replace('(...)', '()')} (guard with ${c.target}.writableEnded)`,
  'headers-sent-by-pipe': (c) =>
    `a pipe into ${c.target} sent the headers with its first write, before ${c.lateCall}: set them before piping, or check ${c.target}.headersSent first (an error handler then can only end or destroy ${c.target})`,
  'headers-already-sent': (c) =>
    `${c.flusher} already sent the headers: set them before it, or check ${c.target}.headersSent before ${c.lateCall}`,
  'missing-return': (c) => `return after ${c.endCall}`,
  'write-after-own-end': (c) => `${c.lateCall} runs after ${c.endCall} in the same function: write before ending, or return after ${c.endCall}`,
  'missing-return-unknown-end': (c) => `a response was already sent in this request: return after sending it, before ${c.lateCall}`,
  'double-send': (c) => `send one response per request: remove or guard the second ${c.lateCall}`,
  'next-after-send': (c) => `return after ${c.endCall} instead of calling next(): a later handler responded again`,
  'late-subscriber': (c) => `a listener outlived the response: remove it on ${c.target}.on('close', ...) before ${c.lateCall} can run`,
  'late-callback': (c) =>
    `a callback responded after ${c.endCall}: check ${c.target}.writableEnded before ${c.lateCall}, or cancel the pending work when the response ends`,
  'returned-after-send': (c) => `the framework sent a value returned (or an error thrown) after ${c.endCall}: return nothing after sending`,
};

/** The hints whose response wording does not fit a plain stream (a socket, a file, a logger). */
const STREAM_HINTS: Partial<Record<HintId, (c: HintContext) => string>> = {
  'late-callback': (c) =>
    `a callback wrote after ${c.endCall}: check ${c.target}.writableEnded before ${c.lateCall}, or cancel the pending work when the stream ends`,
};

/** `ctx.res` of `ctx.res.end(...)`, `ctx` of `ctx.body = ...`: what the call is made on. */
function receiverOf(call: string | null, vocabulary: Vocabulary): string {
  const member = call === null ? '' : call.replace(/(\(\.\.\.\)| = \.\.\.)$/, '');
  const dot = member.lastIndexOf('.');
  if (dot > 0) return member.slice(0, dot);
  return vocabulary.receiver;
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

/** The router's dispatch (router, connect, Express's app and router), not Express's response methods (res.format, res.send). */
function isRouterFrame(f: Frame): boolean {
  return f.kind === 'dependency' && (f.fn === 'next' || /[/\\]node_modules[/\\](?:router|connect|express[/\\]lib[/\\](?:router[/\\]|application\.js))/.test(f.file));
}

/**
 * The late call went through the router from the function that ended (its next()), not through
 * a callback that function called itself: none of the ending call's own functions (the user's
 * frames above the router's, e.g. a `badRequest(res)` helper and the handler that called it) is
 * on the late stack above the router's frames.
 */
function viaRouter(frames: readonly Frame[], endFrames: readonly Frame[]): boolean {
  const dispatch = endFrames.findIndex(isRouterFrame);
  // the end's stack stops inside a library that called the user's code (a res.format()
  // callback): which function of the user's dispatched it is not known
  if (dispatch === -1 && endFrames[endFrames.length - 1]?.kind === 'dependency') return false;
  const ending = (dispatch === -1 ? endFrames : endFrames.slice(0, dispatch)).filter((f) => f.kind === 'user');
  // the framework's own frames above the late call (res.send → res.set) are not the way in
  const firstUser = frames.findIndex((f) => f.kind === 'user');
  for (const f of frames.slice(Math.max(firstUser, 0))) {
    if (f.kind === 'user' && ending.some((e) => sameFunction(e, f))) return false;
    if (isRouterFrame(f)) return true;
  }
  return false;
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

/** Which cause, and which of the hints for it. Pure. */
export function causeOf(input: ClassifyInput): { cause: Cause; hint: HintId } {
  const { kind, endFrames, lateFrames } = input;
  if (input.clientDisconnect) return { cause: 'client-disconnect', hint: 'client-disconnect' };
  if (kind === 'write-after-destroy') return { cause: 'destroyed', hint: 'destroyed' };
  // both ends came from pipes: a second source's pipe ended the destination again
  if (kind === 'double-end' && input.endFromPipe && input.lateFromPipe && input.pipeCount >= 2) {
    return { cause: 'pipe-multiple-sources', hint: 'pipe-multiple-sources' };
  }
  if (kind === 'double-end' && (input.endFromPipe || input.lateFromPipe)) return { cause: 'pipe-and-end', hint: 'pipe-and-end' };
  if (input.pipeCount >= 2 && (input.endFromPipe || input.lateFromPipe)) {
    return { cause: 'pipe-multiple-sources', hint: 'pipe-multiple-sources' };
  }
  // the pipe's first write flushed the headers (the destination may still be open: http-proxy's
  // error handler answering after the proxied response began)
  if (kind === 'headers-after-sent' && input.endFromPipe && input.headersFlushedBy === 'write') {
    return { cause: 'headers-already-sent', hint: 'headers-sent-by-pipe' };
  }
  if (input.endFromPipe) return { cause: 'pipe-ended', hint: 'pipe-ended' };
  // the pipe's next write after an explicit end: the pipe and the end() on one destination
  if (input.lateFromPipe && kind === 'write-after-end') return { cause: 'pipe-and-end', hint: 'ended-under-pipe' };
  if (kind === 'double-end') return { cause: 'double-end', hint: 'double-end' };
  const endUser = endFrames?.find((f) => f.kind === 'user') ?? null;
  // Koa responds after the middleware chain resolved: a call after that ran outside the chain
  // (the end is the app's hand-off, or Koa's own response when the app set no body)
  const frameworkEnded = endFrames !== null && endFrames.length > 0 && endUser === null;
  if ((input.endHandedOff || frameworkEnded) && input.vocabulary.respondsAfterChain === true) {
    return viaEmitter(lateFrames) ? { cause: 'late-subscriber', hint: 'late-subscriber' } : { cause: 'late-callback', hint: 'late-callback' };
  }
  if (kind === 'headers-after-sent' && input.lateHeaderCall && input.headersFlushedBy !== null) {
    return { cause: 'headers-already-sent', hint: 'headers-already-sent' };
  }

  const lateUser = lateFrames.find((f) => f.kind === 'user') ?? null;
  const synchronous = input.sameExecution ?? inRequestDispatch(lateFrames);
  // Fastify sends what a handler returned (or threw): no frame of the user's code is on the stack
  if (input.vocabulary.sendsReturnValue === true && lateUser === null && endUser !== null) {
    return { cause: 'missing-return', hint: 'returned-after-send' };
  }

  // one function, but two runs of it (a setInterval's ticks): not one handler running on
  if (endUser !== null && lateUser !== null && sameFunction(endUser, lateUser) && input.sameExecution !== false) {
    if (input.between === null || leftABlock(input.between)) return { cause: 'missing-return', hint: 'missing-return' };
    if (!input.vocabulary.response) return { cause: 'missing-return', hint: 'write-after-own-end' };
    return { cause: 'double-send', hint: 'double-send' };
  }
  // the late call came in through the router from the middleware that responded: its next(),
  // also after an await in an async middleware (no async id to compare there)
  if (endFrames !== null && endUser !== null && (synchronous || input.sameExecution === null) && viaRouter(lateFrames, endFrames)) {
    return { cause: 'next-after-send', hint: 'next-after-send' };
  }
  // an (async) handler the router ran after the response was sent, answering after an await:
  // no router frame is left on its stack, but it is none of the ending call's own functions
  if (input.routedAfterEnd && endFrames !== null && endUser !== null && lateUser !== null && !synchronous) {
    if (!endFrames.some((f) => f.kind === 'user' && sameFunction(f, lateUser))) return { cause: 'next-after-send', hint: 'next-after-send' };
  }
  if (synchronous) {
    // armed first report: the end site is unknown, the late call ran in the same dispatch
    if (endUser === null) return { cause: 'missing-return', hint: 'missing-return-unknown-end' };
    return { cause: 'missing-return', hint: 'missing-return' };
  }
  if (viaEmitter(lateFrames)) return { cause: 'late-subscriber', hint: 'late-subscriber' };
  return { cause: 'late-callback', hint: 'late-callback' };
}

/** Turns the facts of a violation into a cause and a fix hint in the family's own terms. Pure. */
export function classify(input: ClassifyInput): Classification {
  const { cause, hint } = causeOf(input);
  const { vocabulary } = input;
  // a pipe's late write is made on the destination, not on the source of the pipe() call
  const receiver = receiverOf(input.lateFromPipe ? (input.endCall ?? input.lateCall) : (input.lateCall ?? input.endCall), vocabulary);
  // a Fastify reply.send(...) that reached the raw response: a Reply has no on() or destroyed, its raw response has
  const target = receiver === 'reply' && vocabulary.receiver === 'res' ? 'reply.raw' : receiver;
  const context: HintContext = {
    target,
    method: input.method,
    endCall: input.endCall ?? vocabulary.firstCall ?? (vocabulary.response ? 'the first response' : `${target}.end()`),
    lateCall: input.lateCall ?? `the late ${target}.${input.method}()`,
    flusher: input.endCall ?? `${target}.${input.headersFlushedBy ?? 'writeHead'}(...)`,
  };
  const word = vocabulary.hints?.[hint] ?? (vocabulary.response ? undefined : STREAM_HINTS[hint]) ?? HINTS[hint];
  return { cause, hint: word(context) };
}
