import { FIRST_DESTROY, FIRST_END, FIRST_NONE, type StreamRecord } from '../internal-types';
import { captureStack } from '../callsite';
import { lateKind } from '../detect';
import { ensureRecord, recordOf } from '../state';
import { runtime, shouldCapture } from '../runtime';
import { callbackLater, endCallback } from '../mode';
import { DROP, THROW, decideLate, errorFor, takeThrow, type LateFacts } from './late';
import { recordFirst } from './writable';
import { failed, wrapMethod, type Hook } from './wrap';

/** The fields of http.OutgoingMessage (ServerResponse, ClientRequest) that Node itself checks. */
export interface Outgoing {
  finished: boolean;
  destroyed: boolean;
  _header: unknown;
  socket?: object | null;
}

/** How to read a response's state: http.OutgoingMessage and http2 compat responses differ. */
export interface ResponseShape {
  label: string;
  ended(res: any): boolean;
  destroyed(res: any): boolean;
  headersSent(res: any): boolean;
  /** Whether end(chunk, ...) writes `chunk`. */
  isChunk(chunk: unknown): boolean;
  /** The code Node throws for a header call after the headers went out, when not ERR_HTTP_HEADERS_SENT. */
  headersSentCode?: string;
}

export const outgoingShape: ResponseShape = {
  label: 'OutgoingMessage',
  ended: (res: Outgoing) => res.finished,
  destroyed: (res: Outgoing) => res.destroyed,
  headersSent: (res: Outgoing) => Boolean(res._header),
  // Node's test in OutgoingMessage.end is `if (chunk)`
  isChunk: (chunk) => Boolean(chunk) && typeof chunk !== 'function',
};

/** When the response's connection closed, from the socket's own record (0 when unknown). */
function closedAtOf(res: { socket?: object | null }): number {
  try {
    const socket = res.socket;
    if (socket === undefined || socket === null) return 0;
    return recordOf(socket)?.endTime ?? 0;
  } catch {
    return 0;
  }
}

/** A response destroyed without a destroy() of ours on record: the client went away. */
export function markDisconnected(res: object): StreamRecord | undefined {
  const record = ensureRecord(res);
  if (record !== undefined && record.first === FIRST_NONE) {
    record.first = FIRST_DESTROY;
    record.clientDisconnect = true;
    record.endTime = closedAtOf(res as Outgoing) || Date.now();
  }
  return record;
}

export function recordHeaders(res: object, method: string, above: Function): void {
  const capture = shouldCapture(res);
  if (!capture && recordOf(res) === undefined) return;
  const record = ensureRecord(res);
  if (record === undefined || record.headerMethod !== null) return;
  record.headerMethod = method;
  if (capture) record.headerCapture = captureStack(runtime.config.stackDepth, above);
}

/** Facts for a late call on a response; `ended` is Node's own flag at the time of the call. */
export function responseFacts(res: object, ended: boolean, destroyed: boolean, method: string, headers: boolean): LateFacts {
  let record = recordOf(res);
  if (destroyed && (record === undefined || record.first === FIRST_NONE) && !ended) record = markDisconnected(res);
  const kind = headers ? 'headers-after-sent' : lateKind(ended, record);
  const clientDisconnect = !headers && kind === 'write-after-destroy' && record?.clientDisconnect === true;
  return {
    kind,
    target: res,
    method,
    record,
    clientDisconnect,
    closedAt: clientDisconnect ? (record?.endTime ?? 0) : 0,
  };
}

/**
 * Is anything being captured (always policy, or an armed key)? When not, Node's nested calls
 * need no marking: recordHeaders would keep nothing anyway.
 */
function tracking(): boolean {
  return runtime.captureAlways || runtime.anyArmed;
}

/**
 * Calls the original with `self` marked active, so Node's own nested calls on it
 * (_implicitHeader → writeHead, http2 end(chunk) → write) are never taken for late calls.
 */
function applyAsActive(self: object, original: Function, args: IArguments): unknown {
  const previous = runtime.active;
  runtime.active = self;
  try {
    return original.apply(self, args);
  } finally {
    runtime.active = previous;
  }
}

export const makeResponseWrite = (shape: ResponseShape) => (original: Function, hook: Hook): Function =>
  function write(this: Outgoing, chunk: unknown, encoding: unknown, cb: unknown) {
    if (hook.disabled || runtime.reporting || this === runtime.active) return original.apply(this, arguments);
    if (!shape.ended(this) && !shape.destroyed(this)) {
      if (shape.headersSent(this)) return original.apply(this, arguments);
      // first write: it flushes the headers, via this.writeHead (Node's _implicitHeader)
      if (!tracking()) return original.apply(this, arguments);
      try {
        recordHeaders(this, 'write', write);
      } catch (error) {
        failed(hook, error);
      }
      return applyAsActive(this, original, arguments);
    }
    const facts = responseFacts(this, shape.ended(this), shape.destroyed(this), 'write', false);
    const action = decideLate(hook, facts, write);
    if (action === DROP) {
      callbackLater(typeof encoding === 'function' ? encoding : cb, errorFor(facts.kind));
      return false;
    }
    if (action === THROW) throw takeThrow();
    return original.apply(this, arguments);
  };

export const makeResponseEnd = (shape: ResponseShape) => (original: Function, hook: Hook): Function =>
  function end(this: Outgoing, chunk: unknown, encoding: unknown, cb: unknown) {
    if (hook.disabled || runtime.reporting || this === runtime.active) return original.apply(this, arguments);
    const withChunk = shape.isChunk(chunk);
    const ended = shape.ended(this);
    const destroyed = shape.destroyed(this);
    if (!ended && (!destroyed || !withChunk)) {
      try {
        if (destroyed) markDisconnected(this);
        else {
          const flushes = !shape.headersSent(this);
          const record = recordFirst(this, FIRST_END, 'end', end);
          if (flushes && record !== undefined && record.headerMethod === null) {
            record.headerMethod = 'end';
            record.headerCapture = record.endCapture;
          }
        }
      } catch (error) {
        failed(hook, error);
      }
      return tracking() ? applyAsActive(this, original, arguments) : original.apply(this, arguments);
    }
    const facts: LateFacts = withChunk
      ? responseFacts(this, ended, destroyed, 'end', false)
      : { ...responseFacts(this, true, false, 'end', false), kind: 'double-end' };
    const action = decideLate(hook, facts, end);
    if (action === DROP) {
      callbackLater(endCallback(chunk, encoding, cb), errorFor(facts.kind));
      return this;
    }
    if (action === THROW) throw takeThrow();
    return original.apply(this, arguments);
  };

export const makeResponseDestroy = (shape: ResponseShape) => (original: Function, hook: Hook): Function =>
  function destroy(this: Outgoing) {
    if (!hook.disabled && !runtime.reporting && !shape.destroyed(this) && !shape.ended(this)) {
      try {
        recordFirst(this, FIRST_DESTROY, 'destroy', destroy);
      } catch (error) {
        failed(hook, error);
      }
    }
    return original.apply(this, arguments);
  };

/** setHeader / writeHead / appendHeader after the headers went out (Node throws ERR_HTTP_HEADERS_SENT). */
export function makeHeaderMethod(method: string, shape: ResponseShape) {
  const flushes = method === 'writeHead';
  return (original: Function, hook: Hook): Function =>
    function headerMethod(this: Outgoing) {
      const sent = shape.headersSent(this);
      if ((!sent && !flushes) || hook.disabled || runtime.reporting || this === runtime.active) return original.apply(this, arguments);
      if (!sent) {
        if (!tracking()) return original.apply(this, arguments);
        // an explicit writeHead flushes the headers: its site is the one a later setHeader needs
        try {
          recordHeaders(this, method, headerMethod);
        } catch (error) {
          failed(hook, error);
        }
        return applyAsActive(this, original, arguments);
      }
      const facts = responseFacts(this, shape.ended(this), shape.destroyed(this), method, true);
      if (shape.headersSentCode !== undefined) facts.code = shape.headersSentCode;
      const action = decideLate(hook, facts, headerMethod);
      if (action === DROP) return this;
      if (action === THROW) throw takeThrow();
      return original.apply(this, arguments);
    };
}

export function patchOutgoing(http: typeof import('node:http')): void {
  const outgoing = http.OutgoingMessage?.prototype;
  const shape = outgoingShape;
  wrapMethod(outgoing, 'write', 'OutgoingMessage', makeResponseWrite(shape));
  wrapMethod(outgoing, 'end', 'OutgoingMessage', makeResponseEnd(shape));
  wrapMethod(outgoing, 'destroy', 'OutgoingMessage', makeResponseDestroy(shape));
  wrapMethod(outgoing, 'setHeader', 'OutgoingMessage', makeHeaderMethod('setHeader', shape));
  wrapMethod(outgoing, 'appendHeader', 'OutgoingMessage', makeHeaderMethod('appendHeader', shape));
  wrapMethod(http.ServerResponse?.prototype, 'writeHead', 'ServerResponse', makeHeaderMethod('writeHead', shape));
  wrapMethod(http.ClientRequest?.prototype, 'destroy', 'ClientRequest', makeResponseDestroy(shape));
}

