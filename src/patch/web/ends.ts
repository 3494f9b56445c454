import { FIRST_DESTROY, FIRST_END, FIRST_NONE, type Capture, type StreamRecord } from '../../internal-types';
import { captureStack, resolveStack } from '../../core/callsite';
import { cancelOrigin, reasonLabel } from '../../core/web-cancel';
import { channels } from '../../channels';
import { flags } from '../../flags';
import { shouldCapture } from '../capture';
import { ensureRecord, markDisconnected, recordEnd, recordOf } from '../record';
import { failed, type Hook } from '../wrap';
import { rawFrames } from './frames';

// Where the ends of a web stream are kept: on the object the late call is made on, or can be
// found from. A readable side's ends (close, error, and every consumer cancel, which reaches the
// controller's [kCancel]) on its controller; a TransformStream's terminate/error on its
// TransformStreamDefaultController; a writable side's ends on the WritableStream (writers come
// and go). What a StreamRecord has no field for (the cancel reason, the pipe behind a cancel) is
// kept here, for the late call.

/**
 * A cancel's caller sits deep below the app's code (reader.cancel → readableStreamCancel →
 * [kCancel]; a pipeline destroying Readable.fromWeb takes ~10 more frames), and cancels are rare:
 * once per stream at most.
 */
const CANCEL_DEPTH = 24;
/** Frames read (not kept) to see whether a cancel ran inside an HTTP response's 'close' (~10–20 deep). */
const CANCEL_SCAN = 32;
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
  /** The late-time refinement ran (it may replace the end capture once). */
  refined: boolean;
}

const extras = new WeakMap<object, Extras>();
/** Signals handed to pipeTo/pipeThrough: their AbortController's abort() site is kept. */
const pipedSignals = new WeakSet<object>();
const abortSites = new WeakMap<object, Capture>();
/** Bridges made by Readable.toWeb / Writable.toWeb / Duplex.toWeb: the web side → its Node stream. */
const nodeSideOf = new WeakMap<object, object>();

function extrasOf(holder: object): Extras {
  let x = extras.get(holder);
  if (x === undefined) {
    x = { reason: null, canceller: null, pipe: null, refined: false };
    extras.set(holder, x);
  }
  return x;
}

export function extrasFor(holder: object): Extras | undefined {
  return extras.get(holder);
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
 * adapter makes when its Node stream closed): who made it, and whether an HTTP response closing
 * early (the client went away) is behind it. The frames are read at every such call, whatever
 * the capture policy, so a client disconnect is named from its first occurrence.
 */
export function recordCancel(hook: Hook, holder: object, method: string, reason: unknown, above: Function): StreamRecord | undefined {
  try {
    if ((recordOf(holder)?.first ?? FIRST_NONE) !== FIRST_NONE) return recordOf(holder);
    const origin = cancelOrigin(rawFrames(CANCEL_SCAN, above));
    let record: StreamRecord | undefined;
    if (origin.httpClose) {
      if (channels.ended.hasSubscribers) channels.ended.publish(holder);
      record = markDisconnected(holder, Date.now());
      if (record !== undefined) record.endMethod = method;
    } else {
      record = recordEnd(hook, holder, FIRST_DESTROY, method, above, CANCEL_DEPTH);
    }
    const label = reasonLabel(reason);
    if (label !== null || origin.canceller !== null) {
      const x = extrasOf(holder);
      x.reason = label;
      x.canceller = origin.canceller;
    }
    return record;
  } catch (error) {
    failed(hook, error);
    return undefined;
  }
}

/** pipeTo/pipeThrough: the site, the destination and the signal, kept on the source's controller. */
export function recordPipe(hook: Hook, controller: object, dest: unknown, signal: object | null, above: Function): void {
  try {
    const x = extrasOf(controller);
    if (x.pipe !== null) return;
    const capture = shouldCapture(controller) ? captureStack(Math.max(flags.config.stackDepth, PIPE_DEPTH), above) : null;
    x.pipe = { dest: typeof dest === 'object' && dest !== null ? dest : null, signal, capture };
    if (signal !== null) pipedSignals.add(signal);
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
export function refineEnd(holder: object, record: StreamRecord | undefined): void {
  if (record === undefined || record.first === FIRST_NONE || record.clientDisconnect) return;
  const x = extrasOf(holder);
  if (x.refined) return;
  x.refined = true;
  const method = record.endMethod ?? 'end';
  if (hasUserFrame(record.endCapture, method)) return;
  const pipe = x.pipe;
  if (method === 'cancel' && pipe !== null) {
    const destRecord = pipe.dest === null ? undefined : recordOf(pipe.dest);
    if (destRecord?.clientDisconnect === true) {
      record.clientDisconnect = true;
      record.endTime = destRecord.endTime;
      return;
    }
    const aborted = pipe.signal === null ? undefined : abortSites.get(pipe.signal);
    if (aborted !== undefined) {
      record.endCapture = aborted;
      record.endMethod = 'abort';
      return;
    }
    if (pipe.capture !== null) record.endCapture = pipe.capture;
    return;
  }
  const node = nodeSideOf.get(holder);
  const nodeRecord = node === undefined ? undefined : recordOf(node);
  if (nodeRecord === undefined || nodeRecord.first === FIRST_NONE) return;
  if (nodeRecord.clientDisconnect) {
    record.clientDisconnect = true;
    record.endTime = nodeRecord.endTime;
  } else if (nodeRecord.endCapture !== null) {
    record.endCapture = nodeRecord.endCapture;
    record.endMethod = nodeRecord.endMethod;
  }
}

// ---- bridges: a web stream made from a Node stream, and its Node side

/** Writable.toWeb(node) / Readable.toWeb(node) / Duplex.toWeb(node): `holder` is the WritableStream or the readable's controller. */
export function linkNodeSide(holder: object, node: object): void {
  nodeSideOf.set(holder, node);
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
  try {
    const node = nodeSideOf.get(holder);
    if (node === undefined || record === undefined || record.first !== first || record.endMethod !== method) return;
    const nodeRecord = ensureRecord(node);
    if (nodeRecord === undefined || nodeRecord.first !== FIRST_NONE) return;
    nodeRecord.first = first;
    nodeRecord.endMethod = method;
    nodeRecord.endCapture = record.endCapture;
    nodeRecord.endAsyncId = record.endAsyncId;
    nodeRecord.endTime = record.endTime;
  } catch (error) {
    failed(hook, error);
  }
}

/** The Node side's record before a cancel, to tell whether the adapter's cancel destroyed it. */
export function nodeSideFirst(holder: object): number {
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
    const record = recordOf(holder);
    if (node === undefined || record === undefined || record.first !== FIRST_DESTROY) return;
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
