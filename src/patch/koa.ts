import type { LateFacts, Vocabulary } from '../internal-types';
import { capturing } from './capture';
import { NOT_DROPPED, lateCall, type LateShape } from './late';
import { claimHandoff, dropHandoff, recordHandoff, recordOf } from './record';
import { Running, idle, wrapAccessor, wrapMethod, type Hook } from './wrap';

// Koa 2 and 3 (lib/application.js, lib/response.js, lib/context.js). Koa answers from its own
// respond() once the middleware chain has resolved: it ends the raw response with the body the
// app set, and it ignores ctx.body / ctx.status / ctx.set() / ctx.type / ctx.redirect() after
// that, silently, by design (`if (this.headerSent) return`). The user's last `ctx.body =` is the
// hand-off, the end site of respond()'s res.end(); a setter after Koa responded is the late call.
// The hand-off stays pending until the chain resolved: before that, an end or flush of ctx.res
// is the app's own (ctx.respond = false, ctx.flushHeaders()).
//
// An ES module app imports dist/koa.mjs, which imports lib/application.js: that file never
// passes through require(), but its own require() of lib/response.js and lib/context.js does,
// for CJS and ESM apps alike (Node 20.6–26). Application is then found in the require cache
// once lib/application.js has finished loading (the tick after it required lib/response.js).

interface KoaResponse {
  res?: { writableEnded?: boolean; destroyed?: boolean; headersSent?: boolean } | null;
  ctx?: { respond?: unknown } | null;
}

const CONTEXT: Vocabulary = {
  receiver: 'ctx',
  response: true,
  firstCall: 'the last ctx.body = ...',
  respondsAfterChain: true,
  ownCalls: true,
  frameworkEnd: "Koa's response",
  hints: {
    'late-callback': (c) =>
      `${c.lateCall} ran after the response was sent (${c.endCall}; Koa answers once the middleware chain resolves), and Koa ignores it: await this work, and \`await next()\` in every middleware above it, or check ctx.headerSent first`,
    'late-subscriber': (c) =>
      `a listener ran ${c.lateCall} after the response was sent (${c.endCall}), and Koa ignores it: remove the listener when the response ends (ctx.res.on('close', ...)), or check ctx.headerSent first`,
    'client-disconnect': (c) => `the client disconnected before ${c.lateCall}: check ctx.writable, or stop the work on ctx.req.on('close', ...)`,
    destroyed: (c) => `ctx.res was destroyed before ${c.lateCall}: check ctx.writable first`,
    'missing-return': (c) => `return after ${c.endCall}: Koa ignores ${c.lateCall} after it (check ctx.headerSent)`,
    'double-send': (c) => `Koa ignores ${c.lateCall} after ${c.endCall}: respond once (check ctx.headerSent)`,
    'headers-already-sent': (c) => `${c.flusher} already sent the headers, so Koa ignores ${c.lateCall}: set it before, or check ctx.headerSent`,
    'missing-return-unknown-end': (c) =>
      `Koa had already responded to this request: await the work behind ${c.lateCall} (and \`await next()\` in every middleware), or check ctx.headerSent`,
  },
};


const MESSAGES: Record<string, string> = {
  body: 'ctx.body was set after Koa had responded: Koa ignores it',
  status: 'ctx.status was set after the headers were sent: Koa ignores it',
  type: 'ctx.type was set after the headers were sent: Koa ignores it',
  set: 'ctx.set() after the headers were sent: Koa ignores it',
  redirect: 'ctx.redirect() after the headers were sent: Koa ignores it',
  remove: 'ctx.remove() after the headers were sent: Koa ignores it',
  vary: 'ctx.vary() after the headers were sent: Koa ignores it',
};

const SETTERS = new Set(['body', 'status', 'type']);

/** The Koa response inside a wrapped call: the setters and methods Koa calls from it on itself are its own. */
const active = new Running();

function activeCall(original: Function): Function {
  return function (this: object) {
    return active.run(this, original, arguments);
  };
}

function rawOf(response: KoaResponse): object | null {
  const res = response.res;
  return typeof res === 'object' && res !== null ? res : null;
}

// the http response wrappers load with http; a Koa app that never errs needs none of it at startup
let responseFacts: typeof import('./response').responseFacts | undefined;

/**
 * A late `ctx.body =`: Koa ignores it (Koa 3's setter also destroys the stream body it replaces,
 * one respond() may still be piping): enforce drops it.
 */
const BODY: LateShape = { drops: new Set(['write-after-end', 'write-after-destroy']), dropped: () => undefined };

function late(
  hook: Hook,
  response: KoaResponse,
  res: object,
  method: string,
  headers: boolean,
  call: Function,
  args: IArguments,
  above: Function,
  answered = false,
): unknown {
  responseFacts ??= (require('./response') as typeof import('./response')).responseFacts;
  const r = res as NonNullable<KoaResponse['res']>;
  const ctx = response.ctx;
  const facts: LateFacts = {
    ...responseFacts(res, r.writableEnded === true || answered, r.destroyed === true, method, headers),
    target: typeof ctx === 'object' && ctx !== null ? ctx : response,
    stream: res,
    type: 'Context',
    code: null,
    message: MESSAGES[method] ?? `ctx.${method} after Koa had responded: Koa ignores it`,
    call: SETTERS.has(method) ? `set ctx.${method}` : `ctx.${method}()`,
    vocabulary: CONTEXT,
  };
  // Koa drops the late header calls itself, silently: enforce keeps that, observe and enforce report
  return lateCall(hook, facts, method === 'body' ? BODY : NOT_DROPPED, response, call, args, above);
}

/** The middleware chain resolved and Koa took the hand-off (chainResolved): respond() has run, or runs now. */
function answeredWithHandoff(res: object): boolean {
  const record = recordOf(res);
  return record !== undefined && record.handoffCapture !== null && !record.handoffPending;
}

/**
 * `set body`: late once the response has ended or the connection is gone (Koa's ctx.writable),
 * or once Koa answered with the body it was handed (the headers are out: a stream body it is
 * still piping); otherwise the hand-off.
 */
function makeBody(original: Function, hook: Hook): Function {
  const call = activeCall(original);
  return function body(this: KoaResponse, value: unknown) {
    const res = idle(hook) || active.current === this ? null : rawOf(this);
    if (res === null) return original.apply(this, arguments);
    const r = res as NonNullable<KoaResponse['res']>;
    if (r.writableEnded === true || r.destroyed === true) return late(hook, this, res, 'body', false, call, arguments, body);
    // Koa's respond() ran with the body handed to it (a stream it is still piping): this one is never sent
    if (r.headersSent === true && answeredWithHandoff(res)) return late(hook, this, res, 'body', false, call, arguments, body, true);
    // the last body set wins; Koa's own `body = null` (204/304) keeps the user's; ctx.respond = false: the app answers itself
    if ((value != null || recordOf(res)?.handoffCapture == null) && this.ctx?.respond !== false) recordHandoff(hook, res, 'body', body, true, true);
    return call.apply(this, arguments);
  };
}

/**
 * How a header call hands the response to Koa: redirect() sets the body itself (the last one
 * wins, as `ctx.body =`); `ctx.status =` answers when no body is set (Koa sends the status
 * message), so it is the hand-off only until a body is.
 */
type HandOff = 'replaces' | 'unless-body' | null;

/** `set status` / `set type` / set() / redirect() / remove() / vary(): late once the headers went out (Koa's own `if (this.headerSent) return`). */
function makeHeaderCall(method: string, handsOff: HandOff) {
  return (original: Function, hook: Hook): Function => {
    const call = activeCall(original);
    return function headerCall(this: KoaResponse) {
      const res = idle(hook) || active.current === this ? null : rawOf(this);
      if (res === null) return original.apply(this, arguments);
      if ((res as NonNullable<KoaResponse['res']>).headersSent === true) return late(hook, this, res, method, true, call, arguments, headerCall);
      if (handsOff !== null && this.ctx?.respond !== false) recordHandoff(hook, res, method, headerCall, handsOff === 'replaces', true);
      return call.apply(this, arguments);
    };
  };
}

/** ctx.onerror answers with Koa's own error response: its end is Koa's, not the body the app had set. */
function makeOnerror(original: Function, hook: Hook): Function {
  return function onerror(this: KoaResponse, error: unknown) {
    if (!idle(hook) && error != null) {
      const res = rawOf(this) as NonNullable<KoaResponse['res']> | null;
      if (res !== null && res.headersSent !== true && res.writableEnded !== true) dropHandoff(res);
    }
    return original.apply(this, arguments);
  };
}

/** The middleware chain resolved: respond() runs next, with the body the app handed over (or none, ctx.respond = false). */
function chainResolved(ctx: unknown): void {
  const res = typeof ctx === 'object' && ctx !== null ? rawOf(ctx as KoaResponse) : null;
  if (res === null) return;
  if ((ctx as KoaResponse['ctx'])?.respond === false) dropHandoff(res);
  else claimHandoff(res);
}

function noop(): void {}

/**
 * handleRequest(ctx, fnMiddleware) runs `fnMiddleware(ctx).then(() => respond(ctx))`: a reaction
 * registered on that same promise first runs right before respond(), in the same microtask
 * checkpoint, so Koa's timing is unchanged.
 */
function makeHandleRequest(original: Function, hook: Hook): Function {
  return function handleRequest(this: unknown, ctx: unknown, composed: unknown) {
    // nothing captured, no hand-off to claim (armed capture before any violation)
    if (idle(hook) || !capturing() || typeof composed !== 'function') return original.apply(this, arguments);
    const args = Array.prototype.slice.call(arguments);
    // named as Koa names it: this frame is in the stack of every middleware
    args[1] = function fnMiddleware(this: unknown) {
      const chain: unknown = composed.apply(this, arguments);
      if (chain instanceof Promise) chain.then(() => chainResolved(ctx), noop);
      return chain;
    };
    return original.apply(this, args);
  };
}

function patchApplication(Application: unknown): void {
  if (typeof Application !== 'function') return;
  wrapMethod(Application.prototype as object, 'handleRequest', 'Application', makeHandleRequest);
}

/** Patches one of Koa's files (the list is in packages.ts). */
export function patchKoa(file: string, exports: unknown, basedir: string): undefined {
  const proto = exports as object;
  if (file === '') {
    patchApplication(exports);
    return undefined;
  }
  if (file === 'lib/context.js') {
    wrapMethod(proto, 'onerror', 'Context', makeOnerror);
    return undefined;
  }
  wrapAccessor(proto, 'body', 'set', 'Response', makeBody);
  wrapAccessor(proto, 'status', 'set', 'Response', makeHeaderCall('status', 'unless-body'));
  wrapAccessor(proto, 'type', 'set', 'Response', makeHeaderCall('type', null));
  wrapMethod(proto, 'set', 'Response', makeHeaderCall('set', null));
  wrapMethod(proto, 'remove', 'Response', makeHeaderCall('remove', null));
  wrapMethod(proto, 'vary', 'Response', makeHeaderCall('vary', null));
  wrapMethod(proto, 'redirect', 'Response', makeHeaderCall('redirect', 'replaces'));
  // an ES module app: lib/application.js is loaded without require(), and is still loading now
  process.nextTick(() => {
    try {
      patchApplication(require.cache[require.resolve(basedir)]?.exports);
    } catch {
      // no main entry: hand-offs stay pending, ends keep their own sites
    }
  });
  return undefined;
}
