// PRIVATE types of the agent: never re-exported from index.ts.
import type { ViolationKind, ViolationReport } from './types';

export const FIRST_NONE = 0;
export const FIRST_END = 1;
export const FIRST_DESTROY = 2;
export type FirstEvent = typeof FIRST_NONE | typeof FIRST_END | typeof FIRST_DESTROY;

/** An unformatted V8 stack: the object Error.captureStackTrace filled in. */
export interface Capture {
  stack?: unknown;
}

export interface PipeRecord {
  source: object;
  capture: Capture | null;
}

/** A late call's async id when it is known to run in another execution than any end (another request's handler). */
export const ANOTHER_EXECUTION = -2;

/** Fixed shape so every stream's record shares one hidden class. */
export class StreamRecord {
  first: FirstEvent = FIRST_NONE;
  /** The call that ended the stream: end, destroy, close, cancel, abort, ... */
  endMethod: string | null = null;
  endCapture: Capture | null = null;
  endAsyncId = -1;
  /** Which run of a repeating timer made the end (repeatingRun()); -1 outside one. */
  endRun = -1;
  endTime = 0;
  headerCapture: Capture | null = null;
  /** The call that flushed the headers: writeHead, write or end. */
  headerMethod: string | null = null;
  pipes: PipeRecord[] | null = null;
  clientDisconnect = false;
  lastLateSite: string | null = null;
  /**
   * A framework's call that took over the response (Fastify's reply.send, Koa's ctx.body =):
   * the framework ends the raw response later from its own code, so that end and its header
   * flush take this call as their site. See recordHandoff().
   */
  handoffMethod: string | null = null;
  handoffCapture: Capture | null = null;
  handoffAsyncId = -1;
  handoffRun = -1;
  /** Recorded, but the framework has not taken the response yet (Koa: until the middleware chain resolved). */
  handoffPending = false;
  /**
   * A framework reported the late call that reaches this stream next (Fastify's second send,
   * still on its way): that raw call is the same violation, passed through unreported once.
   */
  lateCovered = false;
  /** The router ran a handler for this response after its headers were out (a middleware's next() after sending; router.ts). */
  routedAfterEnd = false;
}

export interface Frame {
  /** A path for files, the raw name otherwise (node:internal/..., file URLs turned into paths). */
  file: string;
  line: number;
  column: number;
  fn: string | null;
  /** Where the enclosing function starts (V8's CallSite), to tell anonymous functions apart; 0 when unknown. */
  fnLine: number;
  fnColumn: number;
  kind: 'user' | 'dependency' | 'internal';
}

export interface ResolvedStack {
  text: string;
  frames: Frame[];
}

/** The hints classify can give; a family words any of them in its own terms (Vocabulary). */
export type HintId =
  | 'client-disconnect'
  | 'destroyed'
  | 'pipe-and-end'
  /** the app ended the destination while a pipe into it was still writing */
  | 'ended-under-pipe'
  | 'pipe-multiple-sources'
  | 'pipe-ended'
  | 'double-end'
  | 'headers-already-sent'
  | 'headers-sent-by-pipe'
  | 'missing-return'
  /** the same function writes after its own end (a stream, not a response) */
  | 'write-after-own-end'
  /** armed first report: no end site, the late call ran in the same request dispatch */
  | 'missing-return-unknown-end'
  | 'double-send'
  | 'next-after-send'
  | 'late-subscriber'
  | 'late-callback'
  /** the framework sent a handler's return value (or the error it threw) after the handler had sent */
  | 'returned-after-send';

export interface HintContext {
  /** The receiver as the user's code names it (`res`, `out`, `controller`), from the source when it could be read. */
  target: string;
  method: string;
  /** `res.json(...)`, or the family's word for the first call when the source was not read. */
  endCall: string;
  lateCall: string;
  /** headers-already-sent: the call that flushed the headers. */
  flusher: string;
}

/** How one family of streams is named in hints. */
export interface Vocabulary {
  /** The object users hold, when the source could not be read: 'res', 'stream', 'controller', 'reply'. */
  receiver: string;
  /** A response to a request: two sends in one handler are a double send, not a write after the function's own end. */
  response: boolean;
  /** The end call when it is unknown ('the first response'). */
  firstCall?: string;
  /** Hints in the family's own terms; the missing ones use the node-stream wording. */
  hints?: Partial<Record<HintId, (c: HintContext) => string>>;
  /**
   * The framework responds only once the handler chain has resolved (Koa's respond()): a late
   * call after a hand-off ran outside that chain (work nobody awaited), whatever function it is in.
   */
  respondsAfterChain?: boolean;
  /**
   * The framework sends a handler's return value (or the error it threw) itself (Fastify): a
   * late call with no frame of the user's code on its stack is that value, sent after the
   * handler had already sent.
   */
  sendsReturnValue?: boolean;
  /** The end call when the framework's own code ended it, with no frame of the user's below (Fastify sending a returned value). */
  frameworkEnd?: string;
  /** The wrapped methods are the framework's public API: a late call is the caller's own even through a delegate (Koa's ctx → response). */
  ownCalls?: boolean;
}

/** What a wrapper knows at a late call: the facts the core decides on. */
export interface LateFacts {
  kind: ViolationKind;
  /** The stream (or controller, writer, reply) the call was made on: the channel's `target`. */
  target: object;
  /**
   * The stream behind a framework object (Fastify's reply.raw, Koa's ctx.res): its record and
   * capture key serve the call. By default the target.
   */
  stream?: object;
  method: string;
  record: StreamRecord | undefined;
  /** The report's `type` when it is not the target's class name (e.g. a framework object). */
  type?: string;
  /** The error code of the late call; by default Node's for the kind. null when the library raises none. */
  code?: string | null;
  /** The late stack's message; by default Node's for the kind. */
  message?: string;
  /** How the late call reads in strict mode's message ('reply.send()', 'set ctx.body'); by default `method()`. */
  call?: string;
  /** How hints name this family; by default node streams, or http when the type ends in Response. */
  vocabulary?: Vocabulary;
  clientDisconnect?: boolean;
  /** The peer ended the connection (net.Socket FIN): a client disconnect unless code made the end on record. */
  peerEnded?: boolean;
  /** ms since epoch when the connection closed, 0 when unknown. */
  closedAt?: number;
  /** The close code the peer sent (WebSocket), when known. */
  closeCode?: number;
  /**
   * What the family knows of how it ended when no call was recorded (a web stream errored by its
   * underlying source or sink; ws closing after the peer broke the protocol): the report's
   * endMethod (when none was recorded) and endSiteNote (when there is no end site).
   */
  stateEnd?: { method: string | null; note: string };
}

/** Published on the private report channel for endguard's own reporters, once per violation. */
export interface ReportFact {
  /** null: past the report budget, only counted. */
  report: ViolationReport | null;
  /** The violation's kind, also when only counted. */
  kind: ViolationKind;
  target: object;
  /** For the log: 0 prints nothing; otherwise the occurrences since this key last printed. */
  print: number;
  /** With print > 1: ms since this key last printed (the span those occurrences fall in). */
  printSpanMs?: number;
}
