import { FIRST_DESTROY, FIRST_END, FIRST_NONE, type Capture, type StreamRecord } from '../../internal-types';
import { captureStack } from '../../core/capture-stack';
import { resolveStack } from '../../core/callsite';
import { cancelOrigin, reasonLabel } from '../../core/web-cancel';
import { flags } from '../../flags';
import { captureSite } from '../capture';
import { ensureRecord, markDisconnected, recordEnd, recordOf, takeEnd } from '../record';
import { pipelineOf } from '../pipe';
import { failed, type Hook } from '../wrap';
import { readableStateOfController } from './internals';

// Where the ends of a web stream are kept: on the object the late call is made on, or can be
// found from. A readable side's ends (close, error, and every consumer cancel, which reaches the
// controller's [kCancel]) on its controller; a TransformStream's terminate/error on its
// TransformStreamDefaultController; a writable side's ends on the WritableStream (writers come
// and go). What a StreamRecord has no field for (the cancel reason, the pipe behind a cancel) is
// kept here, for the late call.

/**
 * A cancel's caller sits deep below the app's code: reader.cancel → readableStreamCancel →
 * [kCancel], and Node's onServerResponseClose (an HTTP response closing early) is 5–7 frames
 * below a server adapter's cancel (@hono/node-server, Writable.toWeb) and 13–14 below
 * pipeline(Readable.fromWeb(body), res) on Node 20–26. Cancels are rare: once per stream at most.
 */
const CANCEL_DEPTH = 24;
/** pipeTo() is often called by a library a few frames below the app's call; pipes are rare. */
const PIPE_DEPTH = 12;

interface PipeInfo {
  dest: object | null;
  signal: object | null;
  capture: Capture | null;
}

interface Extras {
  reason: string | null;
  canceller: string | null;
  pipe: PipeInfo | null;
  /** The cancel's stack, unformatted: read once, at the first late call (resolveOrigin). */
  cancelCapture: Capture | null;
  cancelMethod: string;
  cancelTime: number;
  /** The late-time refinement ran (it may replace the end capture once). */
  refined: boolean;
}

const extras = new WeakMap<object, Extras>();
/** Signals handed to pipeTo/pipeThrough: their AbortController's abort() site is kept. */
const pipedSignals = new WeakSet<object>();
const abortSites = new WeakMap<object, Capture>();
/** A pipe's destination (its canonical WritableStream) → the pipe's signal: its abort errors the destination from Node's code. */
const signalOfDest = new WeakMap<object, object>();
/** Bridges made by Readable.toWeb / Writable.toWeb / Duplex.toWeb: the web side → its Node stream. */
const nodeSideOf = new WeakMap<object, object>();
/**
 * A TransformStream's writable side → its readable side's controller. Node errors the writable
 * side from its own code when the readable side is cancelled (a server adapter cancelling the
 * body of `body.pipeThrough(new TextEncoderStream())`, Hono's streamSSE): no wrapper sees that
 * end, the cancel on the other side is it. Linked when the writable side is read.
 */
const readableSides = new WeakMap<object, object>();
/** Readable.fromWeb(web): the readable's controller → the Node stream reading it (a pipeline() may destroy it). */
const nodeReaderOf = new WeakMap<object, object>();
/** Until the app makes its first bridge, no end looks one up. */
let anyBridge = false;

function extrasOf(holder: object): Extras {
  let x = extras.get(holder);
  if (x === undefined) {
    x = { reason: null, canceller: null, pipe: null, cancelCapture: null, cancelMethod: 'cancel', cancelTime: 0, refined: false };
    extras.set(holder, x);
  }
  return x;
}

export function extrasFor(holder: object): Extras | undefined {
  return extras.get(holder);
}

/** A cancel whose stack was kept but not yet read (the armed policy keeps no record for it). */
export function cancelPending(holder: object): boolean {
  return extras.get(holder)?.cancelCapture != null;
}

/** Only an HTTP server can see its client go away: until the app loads one, cancels keep nothing under the armed policy. */
let httpServerLoaded = false;
let scannedUpTo = 0;
function httpServerInProcess(): boolean {
  if (httpServerLoaded) return true;
  const list = (process as { moduleLoadList?: unknown }).moduleLoadList;
  if (!Array.isArray(list)) return false;
  for (let i = scannedUpTo; i < list.length; i++) if (list[i] === 'NativeModule _http_server') httpServerLoaded = true;
  scannedUpTo = list.length;
  return httpServerLoaded;
}

/** close(), terminate(), error(), writer.close(), writer.abort(): the first end, per the capture policy. */
export function recordWebEnd(
  hook: Hook,
  holder: object,
  first: typeof FIRST_END | typeof FIRST_DESTROY,
  method: string,
  above: Function,
): StreamRecord | undefined {
  const record = recordEnd(hook, holder, first, method, above);
  preRecordNodeSide(hook, holder, record, first, method);
  return record;
}

/**
 * A cancel (the readable side's [kCancel], or the writable side's controller.error() that a Node
 * adapter makes when its Node stream closed). Its stack is captured unformatted (~2–3 µs) and
 * read only at a late call: it is the end site, and it tells whether an HTTP response closing
 * early (the client went away) is behind the cancel. Under the armed policy the stack is still
 * kept in an HTTP server, for that one question, and never reported as an end site.
 */
export function recordCancel(hook: Hook, holder: object, method: string, reason: unknown, above: Function): void {
  try {
    if ((recordOf(holder)?.first ?? FIRST_NONE) !== FIRST_NONE) return;
    const record = recordEnd(hook, holder, FIRST_DESTROY, method, above, CANCEL_DEPTH);
    const capture = record?.endCapture ?? (httpServerInProcess() ? captureStack(CANCEL_DEPTH, above) : null);
    const label = reasonLabel(reason);
    if (label === null && capture === null) return;
    const x = extrasOf(holder);
    x.reason = label;
    x.cancelCapture = capture;
    x.cancelMethod = method;
    x.cancelTime = Date.now();
  } catch (error) {
    failed(hook, error);
  }
}

/**
 * Once per holder, at its first late call (or right after a bridge's cancel): what the cancel's
 * frames say. Inside an HTTP response's 'close' → a client disconnect (no end site, the time it
 * closed); otherwise the library that cancelled when no code of the app did.
 */
export function resolveOrigin(holder: object): void {
  const x = extras.get(holder);
  if (x === undefined || x.cancelCapture === null) return;
  const capture = x.cancelCapture;
  x.cancelCapture = null;
  // the header build/report.ts gives the end stack: the resolution is cached per capture
  const frames = resolveStack(capture, 'Error', `${x.cancelMethod}() here`)?.frames ?? [];
  const origin = cancelOrigin(frames);
  x.canceller = origin.canceller;
  if (!origin.httpClose) return;
  const record = markDisconnected(holder, x.cancelTime);
  if (record === undefined || (record.endMethod !== null && record.endMethod !== x.cancelMethod)) return;
  record.endMethod = x.cancelMethod;
  record.clientDisconnect = true;
  record.endTime = x.cancelTime;
}

/** pipeTo/pipeThrough: the site, the destination and the signal, kept on the source's controller. */
export function recordPipe(hook: Hook, controller: object, dest: unknown, signal: object | null, above: Function): void {
  try {
    const x = extrasOf(controller);
    if (x.pipe !== null) return;
    const capture = captureSite(controller, Math.max(flags.config.stackDepth, PIPE_DEPTH), above);
    x.pipe = { dest: typeof dest === 'object' && dest !== null ? dest : null, signal, capture };
    if (signal !== null) {
      pipedSignals.add(signal);
      if (x.pipe.dest !== null) signalOfDest.set(x.pipe.dest, signal);
    }
  } catch (error) {
    failed(hook, error);
  }
}

/** AbortController#abort() of a signal a pipe listens to: the site that aborted the pipe. */
export function recordAbort(hook: Hook, signal: object, above: Function): void {
  try {
    if (!pipedSignals.has(signal) || abortSites.has(signal)) return;
    abortSites.set(signal, captureStack(Math.max(flags.config.stackDepth, PIPE_DEPTH), above));
  } catch (error) {
    failed(hook, error);
  }
}

/**
 * What ended a pipe's destination: a TransformStream's writable side is errored by its readable
 * side's cancel (that cancel, itself refined when that side is a pipe's source: a chain of
 * pipeThrough), otherwise the destination's own record.
 */
function pipeDestinationRecord(pipe: PipeInfo): StreamRecord | undefined {
  const side = pipe.dest === null ? undefined : cancelledReadableSide(pipe.dest);
  const dest = side ?? pipe.dest;
  if (dest !== null) resolveOrigin(dest);
  return side !== undefined ? refineEnd(side, recordOf(side)) : dest === null ? undefined : recordOf(dest);
}

/**
 * A pipe's source whose cancel nothing kept (armed capture: no record), its destination gone
 * with the HTTP client: the client's disconnect, from the first occurrence.
 */
function disconnectedThroughPipe(holder: object): StreamRecord | undefined {
  const x = extras.get(holder);
  if (x === undefined || x.pipe === null || x.cancelTime === 0) return undefined;
  if (pipeDestinationRecord(x.pipe)?.clientDisconnect !== true) return undefined;
  const record = markDisconnected(holder, x.cancelTime);
  if (record !== undefined) record.endMethod = x.cancelMethod;
  return record;
}

/**
 * A WritableStream no wrapper saw end, the destination of a pipe whose signal was aborted:
 * pipeTo() aborted it from Node's code, and that AbortController#abort() is its end.
 */
function abortedAsPipeDestination(holder: object): StreamRecord | undefined {
  const signal = signalOfDest.get(holder);
  const capture = signal === undefined ? undefined : abortSites.get(signal);
  if (capture === undefined) return undefined;
  const record = ensureRecord(holder);
  if (record === undefined) return undefined;
  record.first = FIRST_DESTROY;
  record.endMethod = 'abort';
  record.endCapture = capture;
  return record;
}

/** A pipe's destination the app ended itself (a frame of its code on that end's stack): that end becomes `record`'s. */
function takeAppEnd(record: StreamRecord, dest: StreamRecord | undefined): boolean {
  const method = dest?.endMethod ?? 'end';
  if (dest === undefined || dest.endCapture === null || !hasUserFrame(dest.endCapture, method)) return false;
  record.endCapture = dest.endCapture;
  record.endMethod = method;
  return true;
}

function hasUserFrame(capture: Capture | null, method: string): boolean {
  // the same header build/report.ts gives the end stack: the resolution is cached per capture
  const stack = resolveStack(capture, 'Error', `${method}() here`);
  return stack !== null && stack.frames.some((f) => f.kind === 'user');
}

/**
 * At the late call, once: a cancel made by Node's internals alone (pipeTo shutting down, an
 * adapter) has no frame of the app. Name what caused it instead: the pipe's destination closed
 * by the client going away, the AbortController#abort() of the pipe's signal, the pipeTo() call,
 * or (a web stream made by Writable.toWeb) the Node stream's own end or destroy.
 */
export function refineEnd(holder: object, record: StreamRecord | undefined): StreamRecord | undefined {
  resolveOrigin(holder);
  record ??= recordOf(holder);
  if (record === undefined || record.first === FIRST_NONE) record = abortedAsPipeDestination(holder) ?? disconnectedThroughPipe(holder) ?? record;
  if (record === undefined || record.first === FIRST_NONE || record.clientDisconnect) return record;
  const x = extrasOf(holder);
  if (x.refined) return record;
  x.refined = true;
  const method = record.endMethod ?? 'end';
  if (hasUserFrame(record.endCapture, method)) return record;
  const pipe = x.pipe;
  if (method === 'cancel' && pipe !== null) {
    const destRecord = pipeDestinationRecord(pipe);
    if (destRecord?.clientDisconnect === true) {
      record.clientDisconnect = true;
      record.endTime = destRecord.endTime;
      return record;
    }
    const aborted = pipe.signal === null ? undefined : abortSites.get(pipe.signal);
    if (aborted !== undefined) {
      record.endCapture = aborted;
      record.endMethod = 'abort';
      return record;
    }
    // the app ended the pipe's destination side first (reader.cancel() at the end of a chain,
    // writer.abort()): that call is the end site, not the pipe
    if (!takeAppEnd(record, destRecord) && pipe.capture !== null) record.endCapture = pipe.capture;
    return record;
  }
  const piped = method === 'cancel' ? pipelineReading(holder) : undefined;
  if (piped !== undefined) {
    // pipeline(this, dest) or pipeline(Readable.fromWeb(this), dest) destroyed its source: the
    // app's end of the destination when it made one (dest.destroy()), otherwise the pipeline()
    if (!takeAppEnd(record, recordOf(piped.dest)) && piped.capture !== null) record.endCapture = piped.capture;
    return record;
  }
  const node = nodeSideOf.get(holder);
  const nodeRecord = node === undefined ? undefined : recordOf(node);
  if (nodeRecord === undefined || nodeRecord.first === FIRST_NONE) return record;
  if (nodeRecord.clientDisconnect) {
    record.clientDisconnect = true;
    record.endTime = nodeRecord.endTime;
  } else if (nodeRecord.endCapture !== null) {
    // the Node side's own end came first: the web side only errored because of it
    record.first = nodeRecord.first;
    record.endCapture = nodeRecord.endCapture;
    record.endMethod = nodeRecord.endMethod;
  }
  return record;
}

/** The pipeline() whose source is this readable's stream, or the Readable.fromWeb() stream reading it. */
function pipelineReading(controller: object): ReturnType<typeof pipelineOf> {
  const reader = nodeReaderOf.get(controller);
  const viaReader = reader === undefined ? undefined : pipelineOf(reader);
  if (viaReader !== undefined) return viaReader;
  // pipeline(stream, ...) itself (Node 20 reads it through its own Readable.fromWeb)
  const state = readableStateOfController(controller);
  return state === undefined ? undefined : pipelineOf(state);
}

/** `writable` is the writable side of a TransformStream whose readable side's controller is `readableController`. */
export function linkTransformSides(writable: object, readableController: object): void {
  if (!readableSides.has(writable)) readableSides.set(writable, readableController);
}

/**
 * Where the end of a TransformStream's writable side is kept when no wrapper saw one: a cancel
 * of its readable side (the writable side was errored by it), or undefined.
 */
export function cancelledReadableSide(writable: object): object | undefined {
  if ((recordOf(writable)?.first ?? FIRST_NONE) !== FIRST_NONE) return undefined;
  const side = readableSides.get(writable);
  if (side === undefined) return undefined;
  return (recordOf(side)?.first ?? FIRST_NONE) !== FIRST_NONE || cancelPending(side) ? side : undefined;
}

// ---- bridges: a web stream made from a Node stream, and its Node side

/** Readable.fromWeb(web): `controller` is web's, `node` the Readable that reads it. */
export function linkNodeReader(controller: object, node: object): void {
  nodeReaderOf.set(controller, node);
}

/** Writable.toWeb(node) / Readable.toWeb(node) / Duplex.toWeb(node): `holder` is the WritableStream or the readable's controller. */
export function linkNodeSide(holder: object, node: object): void {
  nodeSideOf.set(holder, node);
  anyBridge = true;
}

/**
 * writer.close()/abort() on a Writable.toWeb stream: Node's adapter ends or destroys the Node
 * stream a tick later, from its own code. The Node stream's record gets the web call's site
 * first, so a later write to the Node stream names it.
 */
function preRecordNodeSide(
  hook: Hook,
  holder: object,
  record: StreamRecord | undefined,
  first: typeof FIRST_END | typeof FIRST_DESTROY,
  method: string,
): void {
  if (!anyBridge) return;
  try {
    const node = nodeSideOf.get(holder);
    if (node === undefined || record === undefined || record.first !== first || record.endMethod !== method) return;
    const nodeRecord = ensureRecord(node);
    if (nodeRecord === undefined || nodeRecord.first !== FIRST_NONE) return;
    takeEnd(nodeRecord, record, first, method);
  } catch (error) {
    failed(hook, error);
  }
}

/** The Node side's record before a cancel, to tell whether the adapter's cancel destroyed it. */
export function nodeSideFirst(holder: object): number {
  if (!anyBridge) return -1;
  const node = nodeSideOf.get(holder);
  if (node === undefined) return -1;
  return recordOf(node)?.first ?? FIRST_NONE;
}

/**
 * After a cancel of a Readable.toWeb stream: Node's adapter destroyed the Node stream inside the
 * cancel, from its own frames. Its record takes the cancel's site (deeper), or the client
 * disconnect behind it.
 */
export function afterCancelOfBridge(hook: Hook, holder: object, firstBefore: number): void {
  if (firstBefore !== FIRST_NONE) return;
  try {
    const node = nodeSideOf.get(holder);
    if (node === undefined) return;
    // the Node stream's late write is judged by patch/writable.ts: it must know now
    resolveOrigin(holder);
    const record = recordOf(holder);
    if (record === undefined || record.first !== FIRST_DESTROY) return;
    const nodeRecord = record.clientDisconnect ? markDisconnected(node, record.endTime) : recordOf(node);
    if (nodeRecord === undefined || nodeRecord.first !== FIRST_DESTROY) return;
    nodeRecord.endMethod = record.endMethod;
    if (record.endCapture !== null) nodeRecord.endCapture = record.endCapture;
    if (record.clientDisconnect) {
      nodeRecord.clientDisconnect = true;
      nodeRecord.endTime = record.endTime;
    }
  } catch (error) {
    failed(hook, error);
  }
}
