import type { ViolationKind } from '../types';
import type { LateFacts, StreamRecord, Vocabulary } from '../internal-types';
import { lateKind } from '../core/detect';
import { NODE_DROPS, lateCall, type LateShape } from './late';
import { recordOf } from './record';
import type { Hook } from './wrap';

// net.Socket, Node 20–26 (lib/net.js): once the peer has ended its side and allowHalfOpen is
// false, the 'end' listener onReadableStreamEnd swaps the instance's own `write` for
// writeAfterFIN, and Node ends the writable side itself on the next tick. Every later
// socket.write() then runs writeAfterFIN, never Duplex.prototype.write:
//
//   if (!this.writableEnded) return stream.Duplex.prototype.write.call(this, ...);
//   const er = genericNodeError('This socket has been ended by the other party', { code: 'EPIPE' });
//   if (typeof cb === 'function') process.nextTick(cb, er);   // (in the socket's async scope)
//   this.destroy(er);
//   return false;
//
// Its only call endguard can see is that `this.destroy(er)`: the Duplex destroy wrapper asks
// here whether it is one, and the late write is reported from there, at the user's write()
// (the capture starts above writeAfterFIN). The instance's method is never touched.

const MESSAGE = 'This socket has been ended by the other party';

/** A write after FIN is refused with an 'error' event (EPIPE): enforce drops it (no destroy, no 'error'). */
const DROPS: ReadonlySet<ViolationKind> = new Set<ViolationKind>([...NODE_DROPS, 'write-after-destroy']);
const FIN_WRITE: LateShape = {
  drops: DROPS,
  // writeAfterFIN has already answered the callback and returns false itself
  dropped: (self) => self,
};

type Socket = { write?: unknown; writableEnded?: boolean };

const SOCKET: Vocabulary = {
  receiver: 'socket',
  response: false,
  hints: {
    'client-disconnect': (c) =>
      `the peer ended the connection (FIN) before ${c.lateCall}: stop writing on ${c.target}.on('end', ...), or check ${c.target}.writable before writing`,
  },
};

/**
 * A late call on a socket Node ended after the peer's FIN (its `write` is writeAfterFIN): the
 * peer went away, as for its writes. A late end(chunk) writes through Node's own _write, not
 * writeAfterFIN: ERR_STREAM_WRITE_AFTER_END, from the end wrapper.
 */
export function afterPeerFIN(socket: object, record: StreamRecord | undefined): Partial<LateFacts> {
  return writeAfterFINOf(socket) === null ? {} : { peerEnded: true, vocabulary: SOCKET, closedAt: record?.endTime ?? 0 };
}

/** The socket's own `write` when Node swapped in writeAfterFIN (the peer's FIN came), else null. */
function writeAfterFINOf(socket: object): Function | null {
  if (!Object.prototype.hasOwnProperty.call(socket, 'write')) return null;
  const write = (socket as Socket).write;
  return typeof write === 'function' && write.name === 'writeAfterFIN' ? write : null;
}

/** This destroy(error) is writeAfterFIN refusing a write: `socket.write` is that function. */
export function isWriteAfterFIN(socket: object, error: object): Function | null {
  const e = error as { code?: unknown; message?: unknown };
  return e.code === 'EPIPE' && e.message === MESSAGE ? writeAfterFINOf(socket) : null;
}

/**
 * The late write writeAfterFIN refused. `destroy` is Node's destroy, which observe lets it
 * call (the 'error' event, as without endguard); `writeAfterFIN` hides itself and everything
 * above it from the late stack, so the site and a strict throw are at the user's write().
 */
export function lateWriteAfterFIN(hook: Hook, socket: object, destroy: Function, args: IArguments, writeAfterFIN: Function): unknown {
  const record = recordOf(socket);
  const facts = {
    kind: lateKind(true, record),
    target: socket,
    method: 'write',
    record,
    code: 'EPIPE',
    message: MESSAGE,
    vocabulary: SOCKET,
    peerEnded: true,
    closedAt: record?.endTime ?? 0,
  };
  return lateCall(hook, facts, FIN_WRITE, socket, destroy, args, writeAfterFIN);
}
