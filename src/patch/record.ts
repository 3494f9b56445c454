import { executionAsyncId, executionAsyncResource } from 'node:async_hooks';
import { FIRST_DESTROY, FIRST_END, FIRST_NONE, StreamRecord } from '../internal-types';
import { channels } from '../channels';
import { flags } from '../flags';
import { captureSite, capturesNothing } from './capture';
import { failed, type Hook } from './wrap';

/** Returns its argument from the constructor, so a subclass's private field lands on any object. */
class Stamp {
  constructor(target: object) {
    return target;
  }
}

/**
 * The per-stream slot is a class private field stamped onto the stream: like a non-enumerable
 * symbol it is invisible to util.inspect, Object.keys, JSON and Reflect.ownKeys, but it is
 * added by a plain store. Object.defineProperty of a symbol on a ServerResponse measured
 * 1.7 µs per response (a slow runtime path that can also turn the object's map into a
 * dictionary and slow every later property access in Node's http code); this is ~0.2 µs.
 */
class RecordSlot extends Stamp {
  #record: StreamRecord | undefined;

  static get(stream: object): StreamRecord | undefined {
    return #record in stream ? (stream as RecordSlot).#record : undefined;
  }

  static attach(stream: object, record: StreamRecord): void {
    new RecordSlot(stream);
    (stream as RecordSlot).#record = record;
  }
}

/**
 * The callbacks of one setInterval share its async id; each run starts at a later loop time
 * (Node's listOnTimeout re-inserts the timer with that run's start as _idleStart, Node 20–26).
 * That time tells two runs apart; -1 outside a repeating timer.
 */
export function repeatingRun(): number {
  try {
    const timer = executionAsyncResource() as { _repeat?: unknown; _idleStart?: unknown } | undefined;
    return typeof timer?._repeat === 'number' && typeof timer._idleStart === 'number' ? timer._idleStart : -1;
  } catch {
    return -1;
  }
}

/** The stream's record, or undefined. Never creates one. */
export function recordOf(stream: object): StreamRecord | undefined {
  return RecordSlot.get(stream);
}

/** The stream's record, created on first use. */
export function ensureRecord(stream: object): StreamRecord | undefined {
  const existing = RecordSlot.get(stream);
  if (existing !== undefined) return existing;
  const record = new StreamRecord();
  try {
    RecordSlot.attach(stream, record);
  } catch {
    // objects that refuse new private fields (non-extensible, on V8s that enforce it): no
    // state, no capture; late calls are still seen
    return undefined;
  }
  return record;
}

/**
 * This stream's end is another one's, recorded there (an http2 compat response's stream, a
 * WebSocket's Duplex, a web stream's Node side): the same site, execution and time.
 */
export function takeEnd(record: StreamRecord, from: StreamRecord, first: typeof FIRST_END | typeof FIRST_DESTROY, method: string | null): void {
  record.first = first;
  record.endMethod = method;
  record.endCapture = from.endCapture;
  record.endAsyncId = from.endAsyncId;
  record.endRun = from.endRun;
  record.endTime = from.endTime;
}

/** An end known to be made by code but kept without a site (nothing was captured). False when the stream already ended. */
export function recordWithoutSite(stream: object, first: typeof FIRST_END | typeof FIRST_DESTROY, method: string): boolean {
  const record = ensureRecord(stream);
  if (record === undefined || record.first !== FIRST_NONE) return false;
  record.first = first;
  record.endMethod = method;
  record.endTime = Date.now();
  return true;
}

/**
 * Code ended it (the app's ws.close(), res.destroy()): under the armed capture policy recordEnd
 * keeps nothing, but such an end must still be told from the peer's: a record without a site.
 * For calls off the hot path only.
 */
export function recordCodeEnd(
  hook: Hook,
  stream: object,
  first: typeof FIRST_END | typeof FIRST_DESTROY,
  method: string,
  above: Function,
): void {
  if (recordEnd(hook, stream, first, method, above) !== undefined) return;
  try {
    recordWithoutSite(stream, first, method);
  } catch (error) {
    failed(hook, error);
  }
}

/** A framework holds the response from the user's call (recordHandoff) and answers with it now. */
function handedOff(record: StreamRecord | undefined): record is StreamRecord {
  return record !== undefined && record.handoffCapture !== null && !record.handoffPending;
}

/**
 * Records the first end or destroy of a stream, its site captured per the capture policy, and
 * publishes the `ended` fact. Returns the record, or undefined when nothing is kept (armed
 * policy, key not armed: Node's own flags still tell ended from destroyed at the late call).
 * `depth` raises the frames kept for an end whose caller sits deep below the user's code.
 */
export function recordEnd(
  hook: Hook,
  stream: object,
  first: typeof FIRST_END | typeof FIRST_DESTROY,
  method: string,
  above: Function,
  depth = 0,
): StreamRecord | undefined {
  try {
    if (channels.ended.hasSubscribers) channels.ended.publish(stream);
    if (capturesNothing()) return undefined;
    const existing = recordOf(stream);
    if (existing !== undefined && existing.first !== FIRST_NONE) return existing;
    if (first === FIRST_END && handedOff(existing)) {
      // the framework ends the response from its own code: the user's hand-off is the end site
      // (no capture of its own)
      existing.first = first;
      existing.endTime = Date.now();
      existing.endMethod = existing.handoffMethod;
      existing.endAsyncId = existing.handoffAsyncId;
      existing.endRun = existing.handoffRun;
      existing.endCapture = existing.handoffCapture;
      return existing;
    }
    const capture = captureSite(stream, Math.max(flags.config.stackDepth, depth), above);
    if (capture === null) return existing;
    const record = existing ?? ensureRecord(stream);
    if (record === undefined) return undefined;
    record.first = first;
    record.endMethod = method;
    record.endAsyncId = executionAsyncId();
    record.endRun = repeatingRun();
    record.endTime = Date.now();
    record.endCapture = capture;
    return record;
  } catch (error) {
    failed(hook, error);
    return undefined;
  }
}

/** An end that flushes the headers: its site (or the hand-off's) is the headers' site too, at no capture of its own. */
export function headersFlushedByEnd(record: StreamRecord | undefined): void {
  if (record === undefined || record.headerMethod !== null) return;
  record.headerMethod = record.endMethod ?? 'end';
  record.headerCapture = record.endCapture;
}

/** The headers went out (writeHead, or the first write/end): keep the call's site for a later setHeader. */
export function recordHeaders(hook: Hook, res: object, method: string, above: Function, depth = 0): void {
  try {
    const existing = recordOf(res);
    if (existing !== undefined && existing.headerMethod !== null) return;
    if (handedOff(existing)) {
      existing.headerMethod = existing.handoffMethod;
      existing.headerCapture = existing.handoffCapture;
      return;
    }
    const capture = captureSite(res, Math.max(flags.config.stackDepth, depth), above);
    if (capture === null && existing === undefined) return;
    const record = existing ?? ensureRecord(res);
    if (record === undefined) return;
    record.headerMethod = method;
    record.headerCapture = capture;
  } catch (error) {
    failed(hook, error);
  }
}

/**
 * A framework took over the response from the user's call (Fastify's reply.send, Koa's
 * ctx.body =) and will end it later from its own code: that end, and its header flush, take
 * this call as their site (the rule of docs/architecture.md "Frameworks"), at no extra capture
 * (the end reuses this one). `replace`: a later call supersedes an earlier one (Koa: the last
 * ctx.body = wins); otherwise the first stays (Fastify: the first reply.send). `pending`: the
 * framework takes the response only later (claimHandoff); until then the app's own raw end or
 * flush is its own. Nothing is recorded once the response has ended.
 */
export function recordHandoff(hook: Hook, res: object, method: string, above: Function, replace: boolean, pending = false): void {
  try {
    const existing = recordOf(res);
    if (existing !== undefined && (existing.first !== FIRST_NONE || (existing.handoffCapture !== null && !replace))) return;
    const capture = captureSite(res, flags.config.stackDepth, above);
    if (capture === null) return;
    const record = existing ?? ensureRecord(res);
    if (record === undefined) return;
    record.handoffMethod = method;
    record.handoffAsyncId = executionAsyncId();
    record.handoffRun = repeatingRun();
    record.handoffCapture = capture;
    record.handoffPending = pending;
  } catch (error) {
    failed(hook, error);
  }
}

/** The framework now answers with the pending hand-off (Koa: the middleware chain resolved). */
export function claimHandoff(res: object): void {
  const record = recordOf(res);
  if (record !== undefined && record.first === FIRST_NONE) record.handoffPending = false;
}

/** The framework will not answer with the hand-off after all (ctx.respond = false; Koa's error response). */
export function dropHandoff(res: object): void {
  const record = recordOf(res);
  if (record !== undefined && record.first === FIRST_NONE) record.handoffCapture = record.handoffMethod = null;
}

/** An already-ended stream's connection went away: keep when, for a later client-disconnect report. */
export function recordClose(hook: Hook, stream: object): void {
  try {
    const record = recordOf(stream);
    if (record !== undefined && record.endTime === 0) record.endTime = Date.now();
  } catch (error) {
    failed(hook, error);
  }
}

/**
 * A response destroyed with no destroy() of ours on record: the client went away at `closedAt`,
 * 0 when unknown (no close was recorded: armed capture, or a budget with no room at the time),
 * and the report then says nothing of when rather than the time of the late call.
 */
export function markDisconnected(stream: object, closedAt: number): StreamRecord | undefined {
  const record = ensureRecord(stream);
  if (record !== undefined && record.first === FIRST_NONE) {
    record.first = FIRST_DESTROY;
    record.clientDisconnect = true;
    record.endTime = closedAt;
  }
  return record;
}
