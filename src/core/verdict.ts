import type { Mode, ViolationKind } from '../types';

export const PASS = 0;
export const DROP = 1;
export const THROW = 2;
/** What the wrapper does with a late call: let it through, drop it (enforce), throw (strict). */
export type Action = typeof PASS | typeof DROP | typeof THROW;

/**
 * The mode's answer to a late call. `drops` are the kinds enforce drops for this family:
 * node streams leave writes to a destroyed stream and double ends to Node, which already drops
 * them without an 'error' (the callback gets ERR_STREAM_DESTROYED) and keeps its bookkeeping
 * (an end(chunk) still marks the response finished).
 */
export function modeAction(mode: Mode, kind: ViolationKind, drops: ReadonlySet<ViolationKind>): Action {
  if (mode === 'strict') return THROW;
  if (mode === 'enforce' && drops.has(kind)) return DROP;
  return PASS;
}

/** Whose code made each of the two calls, as far as the report could tell. */
export interface SiteOrigins {
  /** The end came from a pipe, or straight from code outside Node; false when Node ended the stream itself. */
  endByCode: boolean;
  lateByCode: boolean;
  /** The site is a frame of the user's own code (not a dependency's). */
  endUser: boolean;
  lateUser: boolean;
  /** The late call came straight from code outside Node, not from stream internals (pipe). */
  lateDirect: boolean;
  /** Both calls were made from inside one installed package (the innermost frame of each stack is its code). */
  sameLibrary: boolean;
}

/**
 * Node ends and re-ends its own streams (sockets, http2 client requests), and libraries end
 * theirs idempotently: a double end is a bug only when code (the user's, or a pipe they set
 * up) made both calls, and at least one of them is the user's own.
 */
export function reportableDoubleEnd(origins: SiteOrigins, endCaptured: boolean, type: string): boolean {
  if (!origins.lateByCode || (endCaptured && !origins.endByCode)) return false;
  // a library ending its own stream again, the first time on the app's behalf (Hono's
  // stream.close(), then its run() closing it once more and catching the error): its cleanup
  if (origins.sameLibrary && !origins.lateUser) return false;
  // an http2 client GET request is ended by request() itself
  if (!endCaptured && type === 'ClientHttp2Stream') return false;
  return origins.endUser || origins.lateUser;
}

/**
 * The calls that only end a stream, carrying no data: a web stream's close() / terminate(). A
 * late end() of a Node stream after a disconnect always carries a chunk (a bare one is not a
 * late call): the data is lost, as a write's.
 */
const ENDING_CALLS: ReadonlySet<string> = new Set(['close', 'terminate']);

/**
 * A stream the client's disconnect ended, ended again by a dependency with no frame of the
 * user's code (Hono's streamSSE closes its body and its writer when the client goes away, and
 * catches the errors): the library's own cleanup, not a bug of the app.
 */
export function reportableAfterDisconnect(origins: SiteOrigins, method: string, clientDisconnect: boolean): boolean {
  return !clientDisconnect || origins.lateUser || !ENDING_CALLS.has(method);
}
