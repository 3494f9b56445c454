import { FIRST_DESTROY, FIRST_END, FIRST_NONE, type LateFacts, type StreamRecord } from '../internal-types';
import { lateKind } from '../core/detect';
import { flags } from '../flags';
import { capturing } from './capture';
import { CHAINABLE, END, WRITE, lateCall } from './late';
import { ensureRecord, headersFlushedByEnd, markDisconnected, recordCodeEnd, recordEnd, recordHeaders, recordOf, takeEnd } from './record';
import { failed, idle, type Hook } from './wrap';

// The wrappers shared by every HTTP response family (http.OutgoingMessage, http2 compat); a
// ResponseShape says how to read one family's state.

/** How to read a response's state: http.OutgoingMessage and http2 compat responses differ. */
export interface ResponseShape {
  ended(res: object): boolean;
  destroyed(res: object): boolean;
  headersSent(res: object): boolean;
  /** Whether end(chunk, ...) writes `chunk`. */
  isChunk(chunk: unknown): boolean;
  /** The code Node throws for a header call after the headers went out, when not ERR_HTTP_HEADERS_SENT. */
  headersSentCode?: string;
  /** Node's own error for a write to this destroyed response, when not ERR_STREAM_DESTROYED. */
  destroyedError?(res: object): { code: string; message: string } | undefined;
}

/** Facts for a late write or end(chunk), with the family's own error for a destroyed response. */
function lateWriteFacts(shape: ResponseShape, res: object, ended: boolean, destroyed: boolean, method: string): LateFacts {
  const facts = responseFacts(res, ended, destroyed, method, false);
  const own = facts.kind === 'write-after-destroy' ? shape.destroyedError?.(res) : undefined;
  if (own !== undefined) {
    facts.code = own.code;
    facts.message = own.message;
  }
  return facts;
}

/**
 * When the response's connection closed, from its own stream's record: the HTTP/2 stream of an
 * http2 compat response (reset or closed by the client), else the socket (0 when unknown).
 */
function closedAtOf(res: { socket?: object | null; stream?: object | null }): number {
  try {
    const closed = typeof res.stream === 'object' && res.stream !== null ? res.stream : res.socket;
    return closed === undefined || closed === null ? 0 : (recordOf(closed)?.endTime ?? 0);
  } catch {
    return 0;
  }
}

/**
 * An http2 compat response destroyed through its stream (`res.stream.destroy()` or
 * `res.stream.close()` by the app, or Node's closeStream after a client reset): the stream's own
 * record says who, and the report tells the two apart from its frames. The response itself was
 * never ended: Node's closeStream ends the stream, which is the stream's close. Undefined when
 * the stream has no recorded end.
 */
function adoptStreamEnd(res: { stream?: object | null }): StreamRecord | undefined {
  const stream = typeof res.stream === 'object' && res.stream !== null ? recordOf(res.stream) : undefined;
  if (stream === undefined || stream.first === FIRST_NONE || stream.clientDisconnect || stream.endCapture === null) return undefined;
  const record = ensureRecord(res);
  if (record === undefined) return undefined;
  takeEnd(record, stream, FIRST_DESTROY, stream.endMethod === 'destroy' ? 'destroy' : 'close');
  return record;
}

/** Facts for a late call on a response; `ended` is Node's own flag at the time of the call. */
export function responseFacts(res: object, ended: boolean, destroyed: boolean, method: string, headers: boolean): LateFacts {
  let record = recordOf(res);
  if (destroyed && (record === undefined || record.first === FIRST_NONE) && !ended) {
    record = adoptStreamEnd(res) ?? markDisconnected(res, closedAtOf(res));
  }
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
 * Calls the original with `self` marked active, so Node's own nested calls on it
 * (_implicitHeader → writeHead, http2 end(chunk) → write) are never taken for late calls.
 */
function applyAsActive(self: object, original: Function, args: IArguments): unknown {
  const previous = flags.active;
  flags.active = self;
  try {
    return original.apply(self, args);
  } finally {
    flags.active = previous;
  }
}

export const makeResponseWrite = (shape: ResponseShape) => (original: Function, hook: Hook): Function =>
  function write(this: object) {
    if (idle(hook) || this === flags.active) return original.apply(this, arguments);
    if (!shape.ended(this) && !shape.destroyed(this)) {
      // the first write flushes the headers, via this.writeHead (Node's _implicitHeader)
      if (shape.headersSent(this) || !capturing()) return original.apply(this, arguments);
      recordHeaders(hook, this, 'write', write);
      return applyAsActive(this, original, arguments);
    }
    const facts = lateWriteFacts(shape, this, shape.ended(this), shape.destroyed(this), 'write');
    return lateCall(hook, facts, WRITE, this, original, arguments, write);
  };

export const makeResponseEnd = (shape: ResponseShape) => (original: Function, hook: Hook): Function =>
  function end(this: object, chunk: unknown) {
    if (idle(hook) || this === flags.active) return original.apply(this, arguments);
    const withChunk = shape.isChunk(chunk);
    const ended = shape.ended(this);
    const destroyed = shape.destroyed(this);
    if (!ended && (!destroyed || !withChunk)) {
      if (destroyed) {
        try {
          markDisconnected(this, closedAtOf(this));
        } catch (error) {
          failed(hook, error);
        }
      } else {
        const flushes = !shape.headersSent(this);
        const record = recordEnd(hook, this, FIRST_END, 'end', end);
        if (flushes) headersFlushedByEnd(record);
      }
      return capturing() ? applyAsActive(this, original, arguments) : original.apply(this, arguments);
    }
    const facts = withChunk
      ? lateWriteFacts(shape, this, ended, destroyed, 'end')
      : { ...responseFacts(this, true, false, 'end', false), kind: 'double-end' as const };
    return lateCall(hook, facts, END, this, original, arguments, end);
  };

export const makeResponseDestroy = (shape: ResponseShape) => (original: Function, hook: Hook): Function =>
  function destroy(this: object) {
    // destroy() is off the hot path: under armed too, a record that tells it from a client disconnect
    if (!idle(hook) && !shape.destroyed(this) && !shape.ended(this)) recordCodeEnd(hook, this, FIRST_DESTROY, 'destroy', destroy);
    return original.apply(this, arguments);
  };

/** setHeader / writeHead / appendHeader after the headers went out (Node throws ERR_HTTP_HEADERS_SENT). */
export function makeHeaderMethod(method: string, shape: ResponseShape) {
  const flushes = method === 'writeHead';
  return (original: Function, hook: Hook): Function =>
    function headerMethod(this: object) {
      const sent = shape.headersSent(this);
      if ((!sent && !flushes) || idle(hook) || this === flags.active) return original.apply(this, arguments);
      if (!sent) {
        if (!capturing()) return original.apply(this, arguments);
        // an explicit writeHead flushes the headers: its site is the one a later setHeader needs
        recordHeaders(hook, this, method, headerMethod);
        return applyAsActive(this, original, arguments);
      }
      const facts = responseFacts(this, shape.ended(this), shape.destroyed(this), method, true);
      if (shape.headersSentCode !== undefined) facts.code = shape.headersSentCode;
      return lateCall(hook, facts, CHAINABLE, this, original, arguments, headerMethod);
    };
}

/** Frames a dependency's own header flush may sit below the app's call (express-session's res.end → writetop, below Express's res.json → res.send). */
export const DEPENDENCY_FLUSH_DEPTH = 12;

/**
 * A call that sends the headers itself, not through Node's write()/end() (which mark the
 * response active first): the app's flushHeaders() (recorded two of Node's frames above
 * _implicitHeader → writeHead, so the app's call still fits the stack depth behind Koa's
 * ctx.flushHeaders → response.flushHeaders), or _implicitHeader() called by a dependency
 * (express-session's res.end, several frames below the app's res.json(): `depth` reaches it).
 * Node's own nested calls then pass straight through.
 */
export const makeHeaderFlush = (shape: ResponseShape, method: string, depth = 0) => (original: Function, hook: Hook): Function =>
  function headerFlush(this: object) {
    if (idle(hook) || this === flags.active || shape.headersSent(this) || !capturing()) return original.apply(this, arguments);
    recordHeaders(hook, this, method, headerFlush, depth);
    return applyAsActive(this, original, arguments);
  };
