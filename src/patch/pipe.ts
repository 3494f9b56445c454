import stream = require('node:stream');
import { promisify } from 'node:util';
import { captureStack } from '../callsite';
import { ensureRecord } from '../state';
import { runtime, shouldCapture } from '../runtime';
import { failed, wrapMethod, type Hook } from './wrap';

const MAX_PIPES = 4;
// pipe() is often called by a library (send, pipeline) a few frames below the user's call,
// and pipes are far rarer than ends: a deeper capture here is cheap overall.
const PIPE_DEPTH = 12;

/** While stream.pipeline() runs: its own internal pipe() calls are the same pipe, not another source. */
let inPipeline = false;

function recordPipe(source: object, dest: object, above: Function): void {
  const record = ensureRecord(dest);
  if (record === undefined) return;
  const pipes = (record.pipes ??= []);
  if (pipes.length < MAX_PIPES) {
    pipes.push({ source, capture: shouldCapture(dest) ? captureStack(Math.max(runtime.config.stackDepth, PIPE_DEPTH), above) : null });
  }
}

/** Remembers, on the destination, where each pipe into it was set up. */
function makePipe(original: Function, hook: Hook): Function {
  return function pipe(this: object, dest: unknown) {
    if (!hook.disabled && !runtime.reporting && !inPipeline && typeof dest === 'object' && dest !== null) {
      try {
        recordPipe(this, dest, pipe);
      } catch (error) {
        failed(hook, error);
      }
    }
    return original.apply(this, arguments);
  };
}

/**
 * stream.pipeline(source, ...transforms, destination, callback): the destination is ended and
 * written by pipeline's internals, with or without pipe() (async iterables are pumped).
 */
function makePipeline(original: Function, hook: Hook): Function {
  const pipeline = function pipeline(this: unknown) {
    if (hook.disabled || runtime.reporting || inPipeline) return original.apply(this, arguments);
    try {
      const streams = (Array.isArray(arguments[0]) ? arguments[0] : Array.prototype.slice.call(arguments)) as unknown[];
      let last = streams.length - 1;
      while (last > 0 && typeof streams[last] === 'function') last--; // the callback
      const dest = streams[last];
      if (last > 0 && typeof dest === 'object' && dest !== null && typeof (dest as { write?: unknown }).write === 'function') {
        recordPipe(streams[0] as object, dest, pipeline);
      }
    } catch (error) {
      failed(hook, error);
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
  wrapMethod(stream.Readable.prototype, 'pipe', 'Readable', makePipe);
  wrapMethod(stream, 'pipeline', 'stream', makePipeline);
}
