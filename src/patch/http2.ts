import { makeHeaderMethod, makeResponseDestroy, makeResponseEnd, makeResponseWrite, type ResponseShape } from './response';
import { wrapMethod } from './wrap';

type Http2Response = {
  writableEnded: boolean;
  headersSent: boolean;
  stream?: { destroyed?: boolean; closed?: boolean } | null;
};

const INVALID_STREAM = { code: 'ERR_HTTP2_INVALID_STREAM', message: 'The stream has been destroyed' };

/** The compat response's private state (its `Symbol(state)`, Node 20–26): what its own write() checks. */
type CompatState = { closed?: unknown; destroyed?: unknown };
/** Found on the first response seen; null when Node has no such symbol (the public getters then stand in). */
let stateKey: symbol | null | undefined;

function compatState(res: object): CompatState | undefined {
  if (stateKey === undefined) stateKey = Object.getOwnPropertySymbols(res).find((s) => s.description === 'state') ?? null;
  const state = stateKey === null ? undefined : (res as Record<symbol, unknown>)[stateKey];
  return typeof state === 'object' && state !== null ? (state as CompatState) : undefined;
}

/**
 * Node's compat write(): ending → ERR_STREAM_WRITE_AFTER_END; closed (its stream's 'close'
 * came) → ERR_HTTP2_INVALID_STREAM; otherwise it hands the call to the stream, which may be
 * destroyed (ERR_STREAM_DESTROYED) or ended by a close() in this tick (reported there, on the
 * ServerHttp2Stream, as Node's error comes from it). end(chunk) after end is dropped silently.
 */
function streamClosed(res: object): boolean {
  const state = compatState(res);
  const stream = (res as Http2Response).stream;
  if (state === undefined) return stream?.closed === true;
  return state.closed === true || state.destroyed === true;
}

const http2Shape: ResponseShape = {
  ended: (res) => (res as Http2Response).writableEnded === true,
  // a stream destroyed in this tick, before its 'close': compat hands the call to it (reported there)
  destroyed: (res) => streamClosed(res) || (stateKey === null && (res as Http2Response).stream?.destroyed === true),
  headersSent: (res) => (res as Http2Response).headersSent === true,
  isChunk: (chunk) => chunk !== null && chunk !== undefined && typeof chunk !== 'function',
  headersSentCode: 'ERR_HTTP2_HEADERS_SENT',
  destroyedError: (res) => (streamClosed(res) ? INVALID_STREAM : undefined),
};

export function patchHttp2(http2: typeof import('node:http2')): void {
  const proto = http2.Http2ServerResponse?.prototype;
  const label = 'Http2ServerResponse';
  wrapMethod(proto, 'write', label, makeResponseWrite(http2Shape));
  wrapMethod(proto, 'end', label, makeResponseEnd(http2Shape));
  wrapMethod(proto, 'destroy', label, makeResponseDestroy(http2Shape));
  wrapMethod(proto, 'setHeader', label, makeHeaderMethod('setHeader', http2Shape));
  wrapMethod(proto, 'appendHeader', label, makeHeaderMethod('appendHeader', http2Shape));
  wrapMethod(proto, 'writeHead', label, makeHeaderMethod('writeHead', http2Shape));
}
