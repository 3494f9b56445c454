import { DEPENDENCY_FLUSH_DEPTH, makeHeaderFlush, makeHeaderMethod, makeResponseDestroy, makeResponseEnd, makeResponseWrite, type ResponseShape } from './response';
import { shareWrapper, wrapMethod } from './wrap';

/** The fields of http.OutgoingMessage (ServerResponse, ClientRequest) that Node itself checks. */
interface Outgoing {
  finished: boolean;
  destroyed: boolean;
  _header: unknown;
}

const outgoingShape: ResponseShape = {
  ended: (res) => (res as Outgoing).finished,
  destroyed: (res) => (res as Outgoing).destroyed,
  headersSent: (res) => Boolean((res as Outgoing)._header),
  // Node's test in OutgoingMessage.end is `if (chunk)`
  isChunk: (chunk) => Boolean(chunk) && typeof chunk !== 'function',
};

// ServerResponse and ClientRequest are not stream.Writable: write/end/destroy/setHeader live
// on OutgoingMessage.prototype, writeHead on ServerResponse.prototype, and ClientRequest has
// its own destroy (Node 20–26).
export function patchOutgoing(http: typeof import('node:http')): void {
  const outgoing = http.OutgoingMessage?.prototype;
  const shape = outgoingShape;
  wrapMethod(outgoing, 'write', 'OutgoingMessage', makeResponseWrite(shape));
  wrapMethod(outgoing, 'end', 'OutgoingMessage', makeResponseEnd(shape));
  wrapMethod(outgoing, 'destroy', 'OutgoingMessage', makeResponseDestroy(shape));
  wrapMethod(outgoing, 'setHeader', 'OutgoingMessage', makeHeaderMethod('setHeader', shape));
  wrapMethod(outgoing, 'appendHeader', 'OutgoingMessage', makeHeaderMethod('appendHeader', shape));
  wrapMethod(outgoing, 'flushHeaders', 'OutgoingMessage', makeHeaderFlush(shape, 'flushHeaders'));
  wrapMethod(http.ServerResponse?.prototype, 'writeHead', 'ServerResponse', makeHeaderMethod('writeHead', shape));
  wrapMethod(http.ServerResponse?.prototype, '_implicitHeader', 'ServerResponse', makeHeaderFlush(shape, 'writeHead', DEPENDENCY_FLUSH_DEPTH));
  // the deprecated writeHeader is writeHead itself: the same wrapper
  shareWrapper(http.ServerResponse?.prototype, 'writeHeader', http.ServerResponse?.prototype, 'writeHead');
  wrapMethod(http.ClientRequest?.prototype, 'destroy', 'ClientRequest', makeResponseDestroy(shape));
}
