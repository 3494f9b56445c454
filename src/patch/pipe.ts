import { promisify } from 'node:util';
import { flags } from '../flags';
import { captureSite } from './capture';
import type { Capture, StreamRecord } from '../internal-types';
import { ensureRecord, recordOf } from './record';
import { NOT_DROPPED, lateCall } from './late';
import { failed, idle, wrapMethod, type Hook } from './wrap';

/**
 * Pipes remembered per destination. One source is the norm and two the bug this exists for
 * (pipe-multiple-sources); 4 keeps a fan-in of a few sources attributable while bounding
 * what a destination that is piped into in a loop can hold.
 */
const MAX_PIPES = 4;
// pipe() is often called by a library (send, pipeline) a few frames below the user's call,
// and pipes are far rarer than ends: a deeper capture here is cheap overall.
const PIPE_DEPTH = 12;

/** While stream.pipeline() runs: its own internal pipe() calls are the same pipe, not another source. */
let inPipeline = false;

/** pipeline()'s source (by pipelineKeyOf) → the source and its destination: a source pipeline() destroys has that pipe as its end. */
const pipelines = new WeakMap<object, { source: object; dest: object }>();

/**
 * What a pipeline() source is known by: itself, or, set by the web stream patches, a
 * ReadableStream's state (Node 20 hands the app a copy of each stream, sharing only its state).
 */
let pipelineKeyOf: (source: object) => object | undefined = () => undefined;

export function setPipelineKey(keyOf: (source: object) => object | undefined): void {
  pipelineKeyOf = keyOf;
}

/** The pipeline() `key` (a Node stream, or a web stream's state) is the source of: its destination and where it was set up. */
export function pipelineOf(key: object): { dest: object; capture: Capture | null } | undefined {
  const pipeline = pipelines.get(key);
  if (pipeline === undefined) return undefined;
  const { source, dest } = pipeline;
  return { dest, capture: recordOf(dest)?.pipes?.find((p) => p.source === source)?.capture ?? null };
}

function recordPipe(hook: Hook, source: object, dest: object, above: Function): void {
  try {
    const record = ensureRecord(dest);
    if (record === undefined) return;
    const pipes = (record.pipes ??= []);
    if (pipes.length < MAX_PIPES) {
      pipes.push({ source, capture: captureSite(dest, Math.max(flags.config.stackDepth, PIPE_DEPTH), above) });
    }
  } catch (error) {
    failed(hook, error);
  }
}

/** Remembers, on the destination, where each pipe into it was set up. */
export function makePipe(original: Function, hook: Hook): Function {
  return function pipe(this: object, dest: unknown) {
    if (!idle(hook) && !inPipeline && typeof dest === 'object' && dest !== null) recordPipe(hook, this, dest, pipe);
    return original.apply(this, arguments);
  };
}

/**
 * The source still has data for the destination: some buffered, or more to come (not ended,
 * not destroyed, and, for a Duplex, its writable side still open: a Transform the app already
 * ended, as winston ends its logger before its transports, has nothing left to give).
 */
function stillFlowing(source: object): boolean {
  const s = source as {
    readableEnded?: unknown;
    destroyed?: unknown;
    writableEnded?: unknown;
    _readableState?: { ended?: unknown; length?: unknown };
    _writableState?: { ending?: unknown };
  };
  if (s.readableEnded === true || s.destroyed === true) return false;
  const state = s._readableState;
  if (typeof state?.length === 'number' && state.length > 0) return true;
  // readable-stream 2 and 3 have no writableEnded
  return state?.ended !== true && (s.writableEnded ?? s._writableState?.ending) !== true;
}

/**
 * A pipe cut off: the destination finished (the app ended it, or another source's pipe did)
 * while this source still had data for it. Node's pipe unpipes on the destination's 'finish'
 * and the rest of the source is dropped without a write, so no late call ever reaches a wrapper:
 * the unpipe is the late call, the pipe's, and its site the pipe() that set it up.
 */
function cutOff(source: object, dest: unknown): StreamRecord | undefined {
  if (typeof dest !== 'object' || dest === null) return undefined;
  const d = dest as { writableFinished?: unknown; destroyed?: unknown; _writableState?: { finished?: unknown }; allowHalfOpen?: unknown; readableEnded?: unknown };
  // readable-stream 2 and 3 have no writableFinished
  if ((d.writableFinished ?? d._writableState?.finished) !== true || d.destroyed === true) return undefined;
  // a Duplex that ends when its readable side does (a socket after the peer's FIN): the peer went away, Node ended it
  if (d.allowHalfOpen === false && d.readableEnded === true) return undefined;
  const record = recordOf(dest);
  // a late write already reported on it (the same cut seen as a write) is the same bug
  if (record === undefined || record.lastLateSite !== null || record.pipes === null) return undefined;
  return record.pipes.some((p) => p.source === source) && stillFlowing(source) ? record : undefined;
}

const CUT_OFF = 'write after end: the destination finished while this pipe still had data for it, and the rest was dropped';

/** unpipe() run by a pipe whose destination finished under it (cutOff): reported as the pipe's write after end. */
export function makeUnpipe(original: Function, hook: Hook): Function {
  return function unpipe(this: object, dest: unknown) {
    if (idle(hook)) return original.apply(this, arguments);
    let record: StreamRecord | undefined;
    try {
      record = cutOff(this, dest);
    } catch (error) {
      failed(hook, error);
    }
    if (record === undefined) return original.apply(this, arguments);
    const facts = { kind: 'write-after-end' as const, target: dest as object, method: 'write', record, code: null, message: CUT_OFF };
    return lateCall(hook, facts, NOT_DROPPED, this, original, arguments, unpipe);
  };
}

/** The destination of pipeline(...) arguments: the last writable stream after the source. */
function destinationOf(args: IArguments): { source: object; dest: object } | null {
  const streams = (Array.isArray(args[0]) ? args[0] : Array.prototype.slice.call(args)) as unknown[];
  const source = streams[0];
  if (typeof source !== 'object' && typeof source !== 'function') return null;
  for (let i = streams.length - 1; i > 0; i--) {
    const candidate = streams[i];
    // trailing callback (stream.pipeline), options object (stream/promises), function stages
    if (typeof candidate !== 'object' || candidate === null) continue;
    if (typeof (candidate as { write?: unknown }).write === 'function') return { source: source as object, dest: candidate };
  }
  return null;
}

/**
 * stream.pipeline(source, ...transforms, destination, callback) and its stream/promises
 * twin: the destination is ended and written by pipeline's internals, with or without pipe()
 * (async iterables are pumped).
 */
export function makePipeline(original: Function, hook: Hook): Function {
  const pipeline = function pipeline(this: unknown) {
    if (idle(hook) || inPipeline) return original.apply(this, arguments);
    let ends: ReturnType<typeof destinationOf> = null;
    try {
      ends = destinationOf(arguments);
    } catch (error) {
      failed(hook, error);
    }
    if (ends !== null) {
      recordPipe(hook, ends.source, ends.dest, pipeline);
      try {
        pipelines.set(pipelineKeyOf(ends.source) ?? ends.source, ends);
      } catch (error) {
        failed(hook, error);
      }
    }
    inPipeline = true;
    try {
      return original.apply(this, arguments);
    } finally {
      inPipeline = false;
    }
  };
  // util.promisify(stream.pipeline) must still resolve to Node's promise version
  const custom = Object.getOwnPropertyDescriptor(original, promisify.custom);
  if (custom !== undefined) Object.defineProperty(pipeline, promisify.custom, custom);
  return pipeline;
}

export function patchPipe(): void {
  const stream = require('node:stream') as typeof import('node:stream');
  wrapMethod(stream.Readable.prototype, 'pipe', 'Readable', makePipe);
  wrapMethod(stream.Readable.prototype, 'unpipe', 'Readable', makeUnpipe);
  wrapMethod(stream, 'pipeline', 'stream', makePipeline);
  // loaded now (a few hundred bytes of Node's own code) so that `const { pipeline } =
  // require('stream/promises')` and ESM imports both bind the wrapped function
  wrapMethod(require('node:stream/promises') as object, 'pipeline', 'stream/promises', makePipeline);
}
