import { Readable } from 'node:stream';
import { captureStack } from '../callsite';
import { ensureRecord } from '../state';
import { runtime, shouldCapture } from '../runtime';
import { failed, wrapMethod, type Hook } from './wrap';

const MAX_PIPES = 4;
// pipe() is often called by a library (send, pipeline) a few frames below the user's call,
// and pipes are far rarer than ends: a deeper capture here is cheap overall.
const PIPE_DEPTH = 12;

/** Remembers, on the destination, where each pipe into it was set up (pipeline() uses pipe() too). */
function makePipe(original: Function, hook: Hook): Function {
  return function pipe(this: object, dest: unknown) {
    if (!hook.disabled && !runtime.reporting && typeof dest === 'object' && dest !== null) {
      try {
        const record = ensureRecord(dest);
        if (record !== undefined) {
          const pipes = (record.pipes ??= []);
          if (pipes.length < MAX_PIPES) {
            pipes.push({ source: this, capture: shouldCapture(dest) ? captureStack(Math.max(runtime.config.stackDepth, PIPE_DEPTH), pipe) : null });
          }
        }
      } catch (error) {
        failed(hook, error);
      }
    }
    return original.apply(this, arguments);
  };
}

export function patchPipe(): void {
  wrapMethod(Readable.prototype, 'pipe', 'Readable', makePipe);
}
