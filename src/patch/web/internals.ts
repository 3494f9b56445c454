// Node's web streams keep their state behind module-private symbols (lib/internal/webstreams,
// Node 20–26): `[kState]` on every stream, controller, reader and writer, and `[kCancel]` on the
// controllers' prototypes. Node closes, cancels and errors streams through internal functions
// (pipeTo, tee, the adapters, TransformStream's two sides), never through the public methods,
// so the state is what tells whether a call is late, and `[kCancel]` is the one step every
// consumer cancel goes through. Both are found by their description on probe objects and the
// shape is checked on this Node before anything relies on it; when it differs, endguard still
// sees late calls on the controllers (by Node's own exception) but keeps no end site.
import type * as web from 'node:stream/web';

type Bag = Record<symbol, any>;

/** Where a readable side stands: not a stream (no state: another object, null), open, close requested, cancelled (closed without a close request), errored. */
export const UNKNOWN = -1;
export const OPEN = 0;
export const CLOSING = 1;
export const CANCELLED = 2;
export const ERRORED = 3;
export type ReadableStanding = typeof UNKNOWN | typeof OPEN | typeof CLOSING | typeof CANCELLED | typeof ERRORED;
/** Where a writable stream stands: not a stream, open, close queued/in flight or closed, errored/erroring. */
export type WritableStanding = typeof UNKNOWN | typeof OPEN | typeof CLOSING | typeof ERRORED;

export interface WebInternals {
  readonly kState: symbol;
  readonly kCancel: symbol;
  /** Node 24+ keeps a boolean; 20–22 two promise records (closeRequest, inFlightCloseRequest). */
  readonly closeFlag: boolean;
}

let internals: WebInternals | null = null;

export function webInternals(): WebInternals | null {
  return internals;
}

function symbolNamed(target: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(target).find((s) => s.description === description);
}

function closeQueued(state: Bag | any, closeFlag: boolean): boolean {
  if (closeFlag) return state.closeQueuedOrInFlight === true;
  return state.closeRequest?.promise !== undefined || state.inFlightCloseRequest?.promise !== undefined;
}

/**
 * Finds the symbols on probe streams and checks every field endguard reads, before and after a
 * close, on this Node. Runs once, before any wrapper is installed (the probes are never seen).
 */
export function discoverInternals(api: typeof web): WebInternals | null {
  internals = null;
  let readableController: any;
  const readable = new api.ReadableStream({ start: (c) => void (readableController = c) });
  const kState = symbolNamed(readableController, 'kState');
  const kCancel = symbolNamed(Object.getPrototypeOf(readableController), 'kCancel');
  if (kState === undefined || kCancel === undefined) return null;
  if (typeof Object.getPrototypeOf(readableController)[kCancel] !== 'function') return null;

  // Node 20 returns a copy of each new stream from its constructor (makeTransferable): the copy
  // shares the state object, not the identity, with the `stream` the state points back to
  const c = readableController[kState];
  const r = (readable as unknown as Bag)[kState];
  if (c?.closeRequested !== false || c.stream?.[kState] !== r || r?.state !== 'readable' || r.controller !== readableController) return null;
  readableController.close();
  if (c.closeRequested !== true || r.state !== 'closed') return null;

  let byteController: any;
  const bytes = new api.ReadableStream({ type: 'bytes', start: (b) => void (byteController = b) });
  if (byteController?.[kState]?.closeRequested !== false || byteController[kState].stream?.[kState] !== (bytes as unknown as Bag)[kState]) return null;
  if (typeof Object.getPrototypeOf(byteController)[kCancel] !== 'function') return null;

  let transformController: any;
  const transform = new api.TransformStream({ start: (t) => void (transformController = t) });
  const t = transformController?.[kState];
  const ts = (transform as unknown as Bag)[kState];
  if (t?.stream?.[kState] !== ts || ts?.readable !== transform.readable || ts.writable !== transform.writable) return null;
  if (Object.getPrototypeOf((transform.readable as unknown as Bag)[kState]?.controller) !== Object.getPrototypeOf(readableController)) return null;

  const writable = new api.WritableStream();
  const writer = writable.getWriter();
  const w = (writable as unknown as Bag)[kState];
  if ((writer as unknown as Bag)[kState]?.stream !== writable || w?.state !== 'writable' || w.controller?.[kState]?.stream?.[kState] !== w) return null;
  const closeFlag = typeof w.closeQueuedOrInFlight === 'boolean';
  if (!closeFlag && !('closeRequest' in w && 'inFlightCloseRequest' in w)) return null;
  if (closeQueued(w, closeFlag)) return null;
  writer.close().catch(() => {});
  if (!closeQueued(w, closeFlag)) return null;

  internals = { kState, kCancel, closeFlag };
  return internals;
}

export function forgetInternals(): void {
  internals = null;
}

// The readers below run on the hot path (every enqueue, every write): each returns UNKNOWN or
// undefined when `this` is not what it should be (another object, a primitive, null), and the
// wrapper then leaves the call to the original, which raises Node's own error.

/** A ReadableStreamDefaultController or ReadableByteStreamController. */
export function readableStanding(controller: object): ReadableStanding {
  const kState = internals!.kState;
  const c = (controller as Bag | undefined)?.[kState];
  const state = c?.stream?.[kState]?.state;
  if (state === undefined) return UNKNOWN;
  if (c.closeRequested === true) return CLOSING;
  if (state === 'readable') return OPEN;
  return state === 'errored' ? ERRORED : CANCELLED;
}

/** The readable side's controller of a TransformStreamDefaultController: where its ends are kept. */
export function readableControllerOf(transformController: object): object | undefined {
  const kState = internals!.kState;
  return (transformController as Bag | undefined)?.[kState]?.stream?.[kState]?.readable?.[kState]?.controller;
}

/**
 * The one object a WritableStream's ends are kept on. On Node 20 the stream the app holds (and
 * its writers point to) is a copy of the one its controller points to (see discoverInternals):
 * both lead to the controller's.
 */
export function canonicalWritable(stream: unknown): object | undefined {
  const kState = internals!.kState;
  const canonical = (stream as Bag | undefined)?.[kState]?.controller?.[kState]?.stream;
  return typeof canonical === 'object' && canonical !== null ? canonical : undefined;
}

/** The writable side of a TransformStreamDefaultController's stream. */
export function writableOf(transformController: object): object | undefined {
  const kState = internals!.kState;
  return canonicalWritable((transformController as Bag | undefined)?.[kState]?.stream?.[kState]?.writable);
}

/** The controller of a ReadableStream (pipeTo's source). */
export function controllerOf(readable: object): object | undefined {
  return (readable as Bag | undefined)?.[internals!.kState]?.controller;
}

/** A ReadableStream's state: the one object the stream and, on Node 20, the app's copy of it share. undefined for anything else. */
export function readableStateOf(stream: object): object | undefined {
  if (internals === null) return undefined;
  const state = (stream as Bag | undefined)?.[internals.kState];
  return typeof state === 'object' && state !== null && 'controller' in state && 'reader' in state ? state : undefined;
}

/** The state of a readable stream's controller's stream (readableStateOf). */
export function readableStateOfController(controller: object): object | undefined {
  const stream = (controller as Bag | undefined)?.[internals!.kState]?.stream;
  return stream === undefined ? undefined : readableStateOf(stream);
}

/** The stream a WritableStreamDefaultWriter is bound to, or a WritableStreamDefaultController's stream (canonical). */
export function streamOf(writerOrController: object): object | undefined {
  const stream = (writerOrController as Bag | undefined)?.[internals!.kState]?.stream;
  return stream === undefined ? undefined : canonicalWritable(stream);
}

export function writableStanding(stream: object): WritableStanding {
  const w = (stream as Bag | undefined)?.[internals!.kState];
  const state = w?.state;
  if (state === undefined) return UNKNOWN;
  if (state === 'errored' || state === 'erroring') return ERRORED;
  if (state === 'closed' || closeQueued(w, internals!.closeFlag)) return CLOSING;
  return OPEN;
}

/** A WritableStream locked to a writer (its own close()/abort() then reject without touching it). */
export function writableLocked(stream: object): boolean {
  return (stream as Bag | undefined)?.[internals!.kState]?.writer !== undefined;
}
