import { FIRST_DESTROY, FIRST_END, FIRST_NONE, type StreamRecord, type Vocabulary } from '../internal-types';
import type { ViolationKind } from '../types';
import { NOT_DROPPED, lateCall } from './late';
import { ensureRecord, markDisconnected, recordCodeEnd, recordOf, recordWithoutSite, takeEnd } from './record';
import { failed, idle, wrapExported, wrapMethod, type Hook } from './wrap';

// ws 7 and 8 (lib/websocket.js, the same in both for what follows): send(), ping() and pong()
// on a socket that is CLOSING or CLOSED never throw (only CONNECTING does): sendAfterClose
// adds the data's length to bufferedAmount and calls the callback with
// `Error('WebSocket is not open: readyState 2 (CLOSING)')`, no code — synchronously in ws 7,
// on the next tick in ws 8 — and without a callback the data is lost silently (ws#1724).
// A socket leaves OPEN through:
// - the app: close() (a close frame, CLOSING) or terminate() (the TCP socket destroyed);
// - the peer: its close frame (receiverOnConclude sets _closeFrameReceived, then calls
//   close() itself), a protocol error (receiverOnError calls close() with the error's code;
//   the receiver's errorEmitted is set), or the TCP connection ending or dropping
//   (socketOnEnd / socketOnClose / socketOnError set CLOSING directly, no close() call).
// emitClose() runs once the connection is gone, in every case. _closeCode is 1006 until a
// close frame with a code arrives.

const CONNECTING = 0;
const OPEN = 1;
const STATES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'];

interface WebSocketLike {
  readyState: number;
  _closeFrameReceived?: boolean;
  _closeCode?: unknown;
  _receiver?: { _writableState?: { errorEmitted?: boolean } } | null;
}

const WS: Vocabulary = {
  receiver: 'ws',
  response: false,
  firstCall: 'ws.close()',
  hints: {
    'client-disconnect': (c) =>
      `the peer closed the connection before ${c.lateCall}: ws drops it silently; stop sending on ${c.target}.on('close', ...) or check ${c.target}.readyState === WebSocket.OPEN`,
    'write-after-own-end': (c) => `${c.lateCall} runs after ${c.endCall} in the same function: send before closing, or return after ${c.endCall}`,
    'missing-return': (c) => `return after ${c.endCall}`,
    'late-callback': (c) =>
      `a callback sent after ${c.endCall}: check ${c.target}.readyState === WebSocket.OPEN before ${c.lateCall}, or cancel the pending work on ${c.target}.on('close', ...)`,
    'late-subscriber': (c) => `a listener outlived the socket: remove it on ${c.target}.on('close', ...) before ${c.lateCall} can run`,
  },
};

/** The peer started the closing: its close frame arrived, or its data failed ws's protocol checks. */
function peerInitiated(ws: WebSocketLike): boolean {
  return ws._closeFrameReceived === true || ws._receiver?._writableState?.errorEmitted === true;
}

/** createWebSocketStream(ws): the Duplex around each WebSocket. Its end (or the pipe that ended it) makes ws's _final call ws.close(). */
const duplexOf = new WeakMap<object, object>();

/**
 * ws.close() from the Duplex's _final: the Duplex's end is this one's, with its site (your
 * duplex.end(), or the pipe() / pipeline() that ended it). False when the Duplex did not end
 * first, or nothing was kept of its end.
 */
function endedByDuplex(ws: WebSocketLike, method: string): boolean {
  const duplex = duplexOf.get(ws);
  if (method !== 'close' || duplex === undefined) return false;
  const ended = recordOf(duplex);
  if (ended === undefined || ended.first === FIRST_NONE) return endedUnrecorded(ws, duplex as { writableEnded?: unknown });
  if (ended.clientDisconnect) return false;
  const record = ensureRecord(ws);
  if (record === undefined || record.first !== FIRST_NONE) return false;
  takeEnd(record, ended, FIRST_END, ended.endMethod);
  record.pipes = ended.pipes;
  return true;
}

/** The Duplex ended with nothing kept of it (armed capture): the end is still its end(), without a site. */
function endedUnrecorded(ws: WebSocketLike, duplex: { writableEnded?: unknown }): boolean {
  return duplex.writableEnded === true && recordWithoutSite(ws, FIRST_END, 'end');
}

function makeEnd(method: 'close' | 'terminate') {
  return (original: Function, hook: Hook): Function =>
    function close(this: WebSocketLike) {
      if (!idle(hook) && this.readyState <= OPEN && recordOf(this)?.first !== FIRST_END) {
        try {
          // ws calls close() itself in answer to the peer's close frame or a protocol error
          if (method === 'close' && peerInitiated(this)) {
            markDisconnected(this, Date.now());
            if (this._closeFrameReceived !== true && typeof arguments[0] === 'number') protocolClose.set(this, arguments[0]);
          } else if (!endedByDuplex(this, method)) recordCodeEnd(hook, this, FIRST_END, method, close);
        } catch (error) {
          failed(hook, error);
        }
      }
      return original.apply(this, arguments);
    };
}

/** The connection is gone: when nothing closed it before, the peer or the network did. */
function makeEmitClose(original: Function, hook: Hook): Function {
  return function emitClose(this: WebSocketLike) {
    if (!idle(hook)) {
      try {
        const record = recordOf(this);
        if (record === undefined || record.first === FIRST_NONE) markDisconnected(this, Date.now());
      } catch (error) {
        failed(hook, error);
      }
    }
    return original.apply(this, arguments);
  };
}

/** ws closed the connection itself, with this code, because the peer broke the protocol or ws's limits (receiverOnError). */
const protocolClose = new WeakMap<object, number>();

function protocolNote(code: number): { method: null; note: string } {
  return {
    method: null,
    note: `no code of yours ended it: the peer broke the WebSocket protocol or ws's limits (such as maxPayload), and ws closed the connection (close code ${code})`,
  };
}

function closeCodeOf(ws: WebSocketLike): number | undefined {
  const code = ws._closeCode;
  return typeof code === 'number' ? code : undefined;
}

function makeSend(method: 'send' | 'ping' | 'pong') {
  return (original: Function, hook: Hook): Function =>
    function send(this: WebSocketLike) {
      const state = this.readyState;
      if (state === OPEN || state === CONNECTING || idle(hook)) return original.apply(this, arguments);
      let record: StreamRecord | undefined = recordOf(this);
      // left OPEN without a close()/terminate() of the app's: the peer or the network closed it
      if (record === undefined || record.first === FIRST_NONE) record = markDisconnected(this, 0);
      const byPeer = record === undefined || record.first === FIRST_DESTROY;
      const facts = {
        kind: (byPeer ? 'write-after-destroy' : 'write-after-end') as ViolationKind,
        target: this,
        method,
        record,
        code: null,
        message: `WebSocket is not open: readyState ${state} (${STATES[state] ?? 'CLOSED'})`,
        vocabulary: WS,
        clientDisconnect: byPeer,
        closedAt: byPeer ? (record?.endTime ?? 0) : 0,
        closeCode: byPeer ? (protocolClose.get(this) ?? closeCodeOf(this)) : undefined,
        stateEnd: byPeer && protocolClose.has(this) ? protocolNote(protocolClose.get(this)!) : undefined,
      };
      // ws drops a late send itself and answers its callback: enforce leaves it to ws
      return lateCall(hook, facts, NOT_DROPPED, this, original, arguments, send);
    };
}

function makeCreateWebSocketStream(original: Function, hook: Hook): Function {
  return function createWebSocketStream(this: unknown, ws: unknown) {
    const duplex: unknown = original.apply(this, arguments);
    if (!idle(hook) && typeof ws === 'object' && ws !== null && typeof duplex === 'object' && duplex !== null) duplexOf.set(ws, duplex);
    return duplex;
  };
}

/** ws's lib/stream.js: module.exports is createWebSocketStream itself, which the wrapper replaces. */
function patchWebSocketStream(exports: unknown): unknown {
  return typeof exports === 'function' ? wrapExported(exports, 'createWebSocketStream', 'ws', makeCreateWebSocketStream) : undefined;
}

/**
 * Patches ws's lib/websocket.js (ws 8's ESM wrapper.mjs imports lib/stream.js first, whose
 * require('./websocket') is seen) and lib/stream.js (required by ws's CommonJS index).
 */
export function patchWebSocket(file: string, exports: unknown): unknown {
  if (file === 'lib/stream.js') return patchWebSocketStream(exports);
  const proto = (exports as { prototype?: object } | null)?.prototype;
  if (typeof exports !== 'function' || proto === undefined) return undefined;
  wrapMethod(proto, 'close', 'ws WebSocket', makeEnd('close'));
  wrapMethod(proto, 'terminate', 'ws WebSocket', makeEnd('terminate'));
  wrapMethod(proto, 'emitClose', 'ws WebSocket', makeEmitClose);
  for (const method of ['send', 'ping', 'pong'] as const) wrapMethod(proto, method, 'ws WebSocket', makeSend(method));
  return undefined;
}
