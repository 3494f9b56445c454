import { executionAsyncId, executionAsyncResource } from 'node:async_hooks';
import type { ViolationKind, ViolationReport } from '../types';
import { ANOTHER_EXECUTION, type LateFacts, type ReportFact, type Vocabulary } from '../internal-types';
import { captureStack } from '../core/capture-stack';
import { NODE_ERRORS, nodeError, strictError } from '../core/errors';
import { typeNameOf } from '../core/stream-type';
import { DROP, PASS, THROW, modeAction, reportableAfterDisconnect, reportableDoubleEnd, type Action, type SiteOrigins } from '../core/verdict';
import { REPORTS_PER_SECOND, Throttle, dedupeKey } from '../core/throttle';
import { channels } from '../channels';
import { asReporter, flags } from '../flags';
import { armFor, missedCaptureNote } from './capture';
import { streamImplementations } from './implementations';
import { lazy } from '../lazy-load';
import { ensureRecord, repeatingRun } from './record';
import { failed, type Hook } from './wrap';

/** Frames kept of a late call: deep enough to see the HTTP dispatch or a router below it (classification). */
const LATE_DEPTH = 20;

/** How a family's late method answers when enforce drops it, or strict refuses it. */
export interface LateShape {
  /** The kinds enforce drops; the others go through to the library, which already drops them safely. */
  drops: ReadonlySet<ViolationKind>;
  /** What the dropped call returns; it also answers the call's callback, if any, with `error` asynchronously. */
  dropped(self: object, args: IArguments, error: Error): unknown;
  /** strict: the method returns a promise, so the refusal is a rejected promise instead of a throw. */
  rejects?: boolean;
}

/** Node streams and responses: enforce drops writes after end and late headers; Node drops the rest itself. */
export const NODE_DROPS: ReadonlySet<ViolationKind> = new Set(['write-after-end', 'headers-after-sent']);

/** enforce: a dropped call still answers its callback, asynchronously, as Node would. */
export function callbackLater(callback: unknown, error: Error): void {
  if (typeof callback === 'function') process.nextTick(callback as (e: Error) => void, error);
}

/** The callback of end(chunk?, encoding?, cb?), wherever the caller put it. */
export function endCallback(args: IArguments): unknown {
  const [chunk, encoding, cb] = args;
  return typeof chunk === 'function' ? chunk : typeof encoding === 'function' ? encoding : cb;
}

/** A dropped write(chunk, encoding?, cb?): its callback answered asynchronously, false returned. */
export function writeShape(drops: ReadonlySet<ViolationKind>): LateShape {
  return {
    drops,
    dropped: (_self, args, error) => {
      callbackLater(typeof args[1] === 'function' ? args[1] : args[2], error);
      return false;
    },
  };
}

/** A dropped end(chunk?, encoding?, cb?): its callback answered asynchronously; returns the stream, or undefined (`returnsThis` false). */
export function endShape(drops: ReadonlySet<ViolationKind>, returnsThis = true): LateShape {
  return {
    drops,
    dropped: (self, args, error) => {
      callbackLater(endCallback(args), error);
      return returnsThis ? self : undefined;
    },
  };
}

/** write(...) → false; end(...) and header setters → this. */
export const WRITE = writeShape(NODE_DROPS);
export const END = endShape(NODE_DROPS);
export const CHAINABLE: LateShape = { drops: NODE_DROPS, dropped: (self) => self };
/** The library (or Node) drops the late call itself, or ignores it: enforce has nothing to drop (reported all the same; strict throws). */
export const NOT_DROPPED: LateShape = { drops: new Set(), dropped: () => undefined };

const STREAM: Vocabulary = { receiver: 'stream', response: false };
const RESPONSE: Vocabulary = { receiver: 'res', response: true };
/** An http client's request: the other side that went away is the server. */
const CLIENT_REQUEST: Vocabulary = {
  receiver: 'req',
  response: false,
  hints: {
    'client-disconnect': (c) =>
      `the server closed the connection before ${c.lateCall}: stop on ${c.target}.on('close', ...) (or its 'error'), or check ${c.target}.destroyed before writing`,
  },
};

function vocabularyOf(type: string): Vocabulary {
  return type === 'ClientRequest' ? CLIENT_REQUEST : /Response$/.test(type) ? RESPONSE : STREAM;
}

let throttle = new Throttle(10, 60_000);

/** A fresh throttle for the config (`reportsPerSecond` is lifted only by the report benchmark). */
export function configureLate(linesPerSecond: number, dedupeWindowMs: number, reportsPerSecond = REPORTS_PER_SECOND): void {
  throttle = new Throttle(linesPerSecond, dedupeWindowMs, Date.now(), reportsPerSecond);
}

interface Verdict {
  action: Action;
  /** THROW: what the wrapper throws (or rejects with). */
  error: Error | null;
}

const passThrough: Verdict = { action: PASS, error: null };

function publish(fact: ReportFact): void {
  asReporter(() => {
    if (channels.report.hasSubscribers) channels.report.publish(fact);
    if (fact.report !== null && channels.violation.hasSubscribers) {
      const message = { ...fact.report };
      // non-enumerable: subscribers can still JSON.stringify the message
      Object.defineProperty(message, 'target', { value: fact.target, enumerable: false });
      channels.violation.publish(message);
    }
  });
}

/**
 * Node runs the handlers of a keep-alive connection's requests in the connection's one parser
 * resource (HTTPServerAsyncResource), so two requests' handlers can share an async id. When that
 * connection is answering another response now, the late call runs in another request's handler
 * (a pub-sub listener of this response, called by the next request's publish).
 */
function answeringAnother(stream: object): boolean {
  try {
    const current = (executionAsyncResource() as { socket?: { _httpMessage?: unknown } | null }).socket?._httpMessage;
    return typeof current === 'object' && current !== null && current !== stream;
  } catch {
    return false;
  }
}

/** strict, where a throw would land in code that is not the user's: an uncaught exception on the next tick. */
export function raiseOnNextTick(error: object): void {
  process.nextTick(() => {
    throw error;
  });
}

/**
 * A late call was seen: decide what it is and what happens to it. Each step is one module's
 * decision: the throttle (budget, repeat, count, print), the report builder (sites, cause),
 * the double-end rule, the capture policy (arming), the mode (pass, drop, throw).
 */
function judge(facts: LateFacts, shape: LateShape, above: Function): Verdict {
  const { kind } = facts;
  if (facts.record?.lateCovered === true) {
    facts.record.lateCovered = false;
    return passThrough;
  }
  const mode = flags.config.mode;
  const action = modeAction(mode, kind, shape.drops);
  if (!throttle.admit(Date.now(), kind === 'double-end')) {
    publish({ report: null, kind, target: facts.target, print: 0 });
    if (action !== THROW) return { action, error: null };
    const note = 'report budget exceeded, end site not resolved';
    return { action, error: strictError({ kind, method: facts.method, call: facts.call, endSite: null, note }, above) };
  }

  const lateAt = Date.now();
  const lateCapture = captureStack(Math.max(flags.config.stackDepth, LATE_DEPTH), above);
  const lateAsyncId = answeringAnother(facts.stream ?? facts.target) ? ANOTHER_EXECUTION : executionAsyncId();
  const origins: SiteOrigins = { endByCode: false, lateByCode: false, endUser: false, lateUser: false, lateDirect: false, sameLibrary: false };
  const type = facts.type ?? typeNameOf(facts.target);
  const report: ViolationReport = asReporter(() =>
    lazy().buildReport(
      {
        kind,
        target: facts.target,
        type,
        method: facts.method,
        ...lateError(facts),
        vocabulary: facts.vocabulary ?? vocabularyOf(type),
        lateCapture,
        lateAsyncId,
        lateRun: repeatingRun(),
        record: facts.record,
        clientDisconnect: facts.clientDisconnect === true,
        peerEnded: facts.peerEnded === true,
        closedAt: facts.closedAt ?? 0,
        closeCode: facts.closeCode ?? null,
        implementations: streamImplementations,
        mode,
        capture: flags.config.capture,
        missedCapture: missedCaptureNote(),
        stateEnd: facts.stateEnd ?? null,
        stackDepth: flags.config.stackDepth,
        lateAt,
      },
      origins,
    ),
  );

  if (kind === 'double-end' && !reportableDoubleEnd(origins, facts.record?.endCapture != null, type)) return passThrough;
  if (!reportableAfterDisconnect(origins, facts.method, report.cause === 'client-disconnect')) return passThrough;

  const stream = facts.stream ?? facts.target;
  const record = facts.record ?? ensureRecord(stream);
  const repeat = record !== undefined && report.lateSite !== null && record.lastLateSite === report.lateSite;
  if (record !== undefined) record.lastLateSite = report.lateSite;
  if (report.endStack === null && report.cause !== 'client-disconnect') armFor(stream);

  const decision = throttle.decide(dedupeKey(report.endSite, report.lateSite, kind), repeat);
  if (decision.publish) {
    report.count = decision.count;
    publish({ report, kind, target: facts.target, print: decision.print, printSpanMs: decision.printSpanMs });
  }

  if (action !== THROW) return { action, error: null };
  const strict = { kind, method: facts.method, call: facts.call, endSite: report.endSite, note: report.endSiteNote ?? null };
  if (origins.lateDirect && origins.lateUser) return { action, error: strictError({ ...strict, startAt: report.lateSite }, above) };
  // a call made by stream internals (a pipe writing to or ending its destination), or by a
  // dependency with no frame of the user's code below it (Fastify sending a handler's return
  // value): never throw inside code that is not the user's, where it is lost or swallowed;
  // raise it on the next tick, naming the code behind it
  const via = origins.lateDirect ? 'dependency' : 'internals';
  raiseOnNextTick(strictError({ ...strict, lateSite: report.lateSite, via }, above));
  return passThrough;
}

/**
 * The whole late-call path of a wrapper: decides (behind the hook's fence: an internal error
 * turns the hook into a pass-through) and applies the decision. Returns what the wrapper
 * returns: the original's result, the family's dropped value (enforce), or throws (strict).
 */
export function lateCall(
  hook: Hook,
  facts: LateFacts,
  shape: LateShape,
  self: object,
  original: Function,
  args: IArguments,
  above: Function,
): unknown {
  let verdict = passThrough;
  try {
    verdict = judge(facts, shape, above);
  } catch (error) {
    failed(hook, error);
  }
  if (verdict.action === DROP) return shape.dropped(self, args, nodeErrorFor(facts));
  if (verdict.action === THROW && verdict.error !== null) {
    if (shape.rejects === true) return Promise.reject(verdict.error);
    throw verdict.error;
  }
  return original.apply(self, args);
}

const STILL_FINISHING = { code: null, message: 'end() called again while the stream was still finishing' };
const ENDED_THEN_DESTROYED = { code: NODE_ERRORS['write-after-destroy'].code, message: 'Cannot call end after a stream was destroyed' };

/**
 * The late call's error: the family's, Node's for the kind by default. A second end() gets
 * ERR_STREAM_ALREADY_FINISHED only once the stream has finished; before, ERR_STREAM_DESTROYED
 * if it was destroyed meanwhile (a Writable), else no error: the callback is answered at
 * 'finish' (an http2 compat response never raises one).
 */
function lateError(facts: LateFacts): { code: string | null; message: string } {
  const code = facts.code === undefined ? NODE_ERRORS[facts.kind].code : facts.code;
  const message = facts.message ?? NODE_ERRORS[facts.kind].message;
  if (facts.kind === 'double-end' && code === NODE_ERRORS['double-end'].code) {
    const stream = (facts.stream ?? facts.target) as { writableFinished?: unknown; _writableState?: { destroyed?: unknown } };
    if (stream.writableFinished === true) return { code, message };
    return stream._writableState?.destroyed === true ? ENDED_THEN_DESTROYED : STILL_FINISHING;
  }
  return { code, message };
}

/** The error a dropped call's callback receives: the library's own code and message. */
function nodeErrorFor(facts: LateFacts): Error {
  const { code, message } = lateError(facts);
  return code === null ? new Error(message) : nodeError(code, message);
}
