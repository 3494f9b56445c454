import type { ViolationKind } from '../types';
import { FIRST_NONE, type LateFacts, type StreamRecord, type Vocabulary } from '../internal-types';
import { lateKind } from '../core/detect';
import { NODE_ERRORS, isStrictError } from '../core/errors';
import { flags } from '../flags';
import { keysArmed, noteRouteTemplate } from './capture';
import { lateCall, raiseOnNextTick, type LateShape } from './late';
import { recordHandoff, recordOf } from './record';
import { Running, idle, wrapExported, wrapMethod, type Hook } from './wrap';

// Fastify 4 and 5 (lib/reply.js; lib/wrapThenable.js in 4, lib/wrap-thenable.js in 5). A send
// on a reply already sent is dropped by Fastify itself: reply.send() logs FST_ERR_REP_ALREADY_SENT
// at warn level (when a logger is enabled) and returns. Fastify ends the raw response later, from
// its onSend hook chain: the user's first reply.send(...) is recorded as the hand-off, the end
// site of that raw end and of any late write to reply.raw.

interface Raw {
  writableEnded?: boolean;
}
interface Reply {
  raw?: Raw | null;
  /** Fastify's own test: hijacked, or the raw response ended. */
  sent?: boolean;
}

function rawOf(reply: Reply): Raw | null {
  const raw = reply.raw;
  return typeof raw === 'object' && raw !== null ? raw : null;
}

/** Fastify's code and message, without the URL it adds (no query string in a report). */
const ALREADY_SENT = { code: 'FST_ERR_REP_ALREADY_SENT', message: 'Reply was already sent, did you forget to "return reply"?' };

const REPLY: Vocabulary = {
  receiver: 'reply',
  response: true,
  firstCall: 'the first reply.send(...)',
  sendsReturnValue: true,
  frameworkEnd: "Fastify's own send (of the handler's return value or error)",
  hints: {
    'missing-return': (c) => `return ${c.endCall}: the handler went on and sent again (or check reply.sent before ${c.lateCall})`,
    'double-send': (c) => `send one reply per request: remove or guard the second ${c.lateCall} (check reply.sent)`,
    'missing-return-unknown-end': (c) => `the reply was already sent in this request: return reply.send(...) when sending, or check reply.sent before ${c.lateCall}`,
    'returned-after-send': (c) =>
      `Fastify sent again when the handler returned (or threw) after ${c.endCall}: an async handler that calls reply.send(...) must return reply, a sync one nothing`,
    'late-callback': (c) =>
      `a callback called ${c.lateCall} after ${c.endCall} had sent the reply: check reply.sent before it, or cancel the pending work when the reply is sent (onResponse hook)`,
    'late-subscriber': (c) =>
      `a listener outlived the reply: remove it when the reply is sent (onResponse hook, or reply.raw.on('close', ...)) before ${c.lateCall} can run`,
    'next-after-send': (c) => `return ${c.endCall} instead of going on: a later hook or handler sent again`,
  },
};

/**
 * enforce: the late send is dropped before Fastify sees it (no FST_ERR_REP_ALREADY_SENT warning:
 * endguard's report replaces it); it returns the reply, as Fastify's own drop does.
 */
const SEND: LateShape = { drops: new Set<ViolationKind>(['write-after-end', 'write-after-destroy']), dropped: (self) => self };

/** The reply inside a redirect(): its nested send() is the same call. */
const redirecting = new Running();

/** strict errors already raised: Fastify may hand one back both as a send(err) and as a rejection. */
const raised = new WeakSet<object>();

function raiseOnce(error: object): void {
  if (raised.has(error)) return;
  raised.add(error);
  raiseOnNextTick(error);
}

/** The errors Node raises at the late calls the response wrappers report. */
const NODE_LATE_CODES = new Set([...Object.values(NODE_ERRORS).map((e) => e.code), 'ERR_HTTP2_HEADERS_SENT']);

function isNodeLateError(payload: unknown): boolean {
  return payload instanceof Error && NODE_LATE_CODES.has(String((payload as { code?: unknown }).code));
}

/** The route Fastify matched (`/users/:id`), for the armed key of the raw response: every id is one route. */
function noteRoute(reply: Reply, raw: Raw): void {
  try {
    const url = (reply as { request?: { routeOptions?: { url?: unknown } } }).request?.routeOptions?.url;
    if (typeof url === 'string') noteRouteTemplate(raw, url);
  } catch {
    // no template: the path is the key
  }
}

/**
 * A send on a reply already sent, or (`inFlight`: the raw response's record) whose first send
 * is still on its way.
 */
function lateSend(
  hook: Hook,
  reply: Reply,
  raw: Raw,
  method: string,
  original: Function,
  args: IArguments,
  above: Function,
  inFlight?: StreamRecord,
): unknown {
  const record = inFlight ?? recordOf(raw);
  noteRoute(reply, raw);
  const facts: LateFacts = {
    kind: inFlight !== undefined ? 'write-after-end' : lateKind(true, record),
    target: reply,
    stream: raw,
    method,
    record,
    type: 'Reply',
    code: ALREADY_SENT.code,
    message: ALREADY_SENT.message,
    call: `reply.${method}()`,
    vocabulary: REPLY,
  };
  return lateCall(hook, facts, SEND, reply, original, args, above);
}

/** Fastify's private symbols (lib/symbols.js) of one copy: what tells its own error flow apart. */
interface FastifySymbols {
  kReplyIsError?: symbol;
  kReplyNextErrorHandler?: symbol;
  kReplyIsRunningOnErrorHook?: symbol;
}

/**
 * Fastify's own sends after the first: the error flow (a send(err), an onError hook, the error
 * handler answering, Fastify 4 and 5 alike), where a second send is how Fastify replaces the
 * response with the error one.
 */
function inErrorFlow(reply: Reply, payload: unknown, symbols: FastifySymbols): boolean {
  const r = reply as Record<symbol, unknown>;
  return (
    payload instanceof Error ||
    (symbols.kReplyIsError !== undefined && r[symbols.kReplyIsError] === true) ||
    (symbols.kReplyNextErrorHandler !== undefined && r[symbols.kReplyNextErrorHandler] !== undefined) ||
    (symbols.kReplyIsRunningOnErrorHook !== undefined && r[symbols.kReplyIsRunningOnErrorHook] === true)
  );
}

/** The reply inside its first send(): Fastify's nested sends from it (the error flow) are that same send. */
const sending = new Running();

/**
 * Replies whose hand-off is Fastify's own send(err) (a handler threw or rejected: Fastify sets
 * kReplyIsError and sends the error): the error handler's send, nested or later, answers the
 * request, so it replaces that hand-off once (the user's setErrorHandler call is the end site).
 */
const errorSends = new WeakSet<Reply>();

function isFastifyErrorSend(reply: Reply, symbols: FastifySymbols | undefined): boolean {
  return symbols?.kReplyIsError !== undefined && (reply as Record<symbol, unknown>)[symbols.kReplyIsError] === true;
}

/** The second send, when it goes through (observe): its raw consequence is covered by this report. */
function passedOn(record: StreamRecord, original: Function): Function {
  return function (this: object) {
    record.lateCovered = true;
    return sending.run(this, original, arguments);
  };
}

/**
 * A second send while the first is still on its way (async onSend/preSerialization hooks, a
 * stream payload): Fastify does not see it (reply.sent is false until the raw response ends),
 * sends again, and fails later in writeHead (ERR_HTTP_HEADERS_SENT: logged by Fastify 5, an
 * unhandled rejection in Fastify 4). Known only when the first send's hand-off was recorded.
 */
function secondSend(reply: Reply, raw: Raw, payload: unknown, symbols: () => FastifySymbols | undefined): StreamRecord | undefined {
  const record = recordOf(raw);
  if (record === undefined || record.handoffCapture === null || record.first !== FIRST_NONE) return undefined;
  const own = symbols();
  return own === undefined || inErrorFlow(reply, payload, own) ? undefined : record;
}

function makeSend(symbols: () => FastifySymbols | undefined) {
  return (original: Function, hook: Hook): Function =>
    function send(this: Reply, payload: unknown) {
      const raw = idle(hook) || redirecting.current === this ? null : rawOf(this);
      if (raw === null) return original.apply(this, arguments);
      // strict: a handler threw a late call's error (a late send, a late reply.raw.write) and
      // Fastify, which swallows errors once the reply is sent, is sending it: raise it where a
      // test sees it
      if (isStrictError(payload)) {
        raiseOnce(payload as object);
        return this;
      }
      if (raw.writableEnded !== true) {
        // hijack(): the app answers on reply.raw itself
        if (this.sent === true) return original.apply(this, arguments);
        // Fastify's own send inside the first one: the error handler's answer to a send(err)
        if (sending.current === this) {
          if (errorSends.delete(this)) recordHandoff(hook, raw, 'send', send, true);
          return original.apply(this, arguments);
        }
        const record = secondSend(this, raw, payload, symbols);
        if (record !== undefined) return lateSend(hook, this, raw, 'send', passedOn(record, original), arguments, send, record);
        if (keysArmed()) noteRoute(this, raw);
        const errorSend = isFastifyErrorSend(this, symbols());
        // an async error handler's send after Fastify's send(err) replaces it, as a nested one does
        const replace = !errorSend && errorSends.delete(this);
        if (errorSend && recordOf(raw)?.handoffCapture == null) errorSends.add(this);
        recordHandoff(hook, raw, 'send', send, replace);
        return sending.run(this, original, arguments);
      }
      // the error of a late write to reply.raw, reported there, which Fastify now tries to send
      if (isNodeLateError(payload)) return original.apply(this, arguments);
      return lateSend(hook, this, raw, 'send', original, arguments, send);
    };
}

function makeRedirect(original: Function, hook: Hook): Function {
  return function redirect(this: Reply) {
    const raw = idle(hook) || redirecting.current === this ? null : rawOf(this);
    if (raw === null) return original.apply(this, arguments);
    if (raw.writableEnded !== true) {
      if (this.sent !== true && sending.current !== this) recordHandoff(hook, raw, 'redirect', redirect, false);
      return redirecting.run(this, original, arguments);
    }
    const args = arguments;
    return redirecting.run(this, () => lateSend(hook, this, raw, 'redirect', original, args, redirect), []);
  };
}

/**
 * strict, async handlers: a late send's error rejects the handler's promise, and Fastify only
 * logs it ("Promise errored, but reply.sent = true was set"). Raise it where a test sees it.
 */
function makeWrapThenable(original: Function, hook: Hook): Function {
  return function wrapThenable(this: unknown, thenable: unknown) {
    if (!idle(hook) && flags.config.mode === 'strict' && thenable instanceof Promise) {
      thenable.then(undefined, (error: unknown) => {
        if (isStrictError(error)) raiseOnce(error);
      });
    }
    return original.apply(this, arguments);
  };
}

/** lib/symbols.js of each copy, by its root (reply.js requires it first; a copy loaded before start() may list it after). */
const symbolsOf = new Map<string, FastifySymbols>();

/** Patches one of Fastify's files (the list is in packages.ts). */
export function patchFastify(file: string, exports: unknown, basedir: string): unknown {
  if (file === 'lib/symbols.js') {
    symbolsOf.set(basedir, exports as FastifySymbols);
    return undefined;
  }
  if (file === 'lib/reply.js') {
    const proto = (exports as { prototype?: object }).prototype;
    wrapMethod(proto, 'send', 'Reply', makeSend(() => symbolsOf.get(basedir)));
    wrapMethod(proto, 'redirect', 'Reply', makeRedirect);
    return undefined;
  }
  // module.exports is the function itself: the wrapper replaces it
  if (typeof exports !== 'function') return undefined;
  return wrapExported(exports, 'wrapThenable', 'fastify', makeWrapThenable);
}
