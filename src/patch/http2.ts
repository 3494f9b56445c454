import { makeHeaderMethod, makeResponseDestroy, makeResponseEnd, makeResponseWrite, type ResponseShape } from './response';
import { wrapMethod } from './wrap';

type Http2Response = {
  writableEnded: boolean;
  headersSent: boolean;
  stream?: { destroyed?: boolean; closed?: boolean } | null;
};

const INVALID_STREAM = { code: 'ERR_HTTP2_INVALID_STREAM', message: 'The stream has been destroyed' };

// Http2ServerResponse keeps ending/closed in a private state object; these public getters
// read the same facts (Node 20–26). end(chunk) after end is silently dropped by Node.
const http2Shape: ResponseShape = {
  ended: (res) => (res as Http2Response).writableEnded === true,
  destroyed: (res) => (res as Http2Response).stream?.destroyed === true || (res as Http2Response).stream?.closed === true,
  headersSent: (res) => (res as Http2Response).headersSent === true,
  isChunk: (chunk) => chunk !== null && chunk !== undefined && typeof chunk !== 'function',
  headersSentCode: 'ERR_HTTP2_HEADERS_SENT',
  // compat write()/end(chunk) once the stream closed: ERR_HTTP2_INVALID_STREAM (Node 20–26)
  destroyedError: (res) => ((res as Http2Response).stream?.closed === true ? INVALID_STREAM : undefined),
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
