import type * as web from 'node:stream/web';
import { FIRST_DESTROY, FIRST_END, FIRST_NONE } from '../../internal-types';
import { recordOf } from '../record';
import { failed, idle, wrapAccessor, wrapMethod, type Hook } from '../wrap';
import { cancelPending, linkTransformSides, recordWebEnd } from './ends';
import { ERRORED, OPEN, UNKNOWN, canonicalWritable, controllerOf, readableControllerOf, webInternals, readableStanding, writableOf, type ReadableStanding } from './internals';
import { THROWING, lateWebCall, webKind, type WebLate } from './late';
import { NOT_DROPPED, type LateShape } from '../late';

// TransformStreamDefaultController: enqueue() goes to the readable side, which closes on
// terminate(), on the writable side's close (after flush), or when its consumer cancels it.

function standingOf(controller: object): ReadableStanding {
  const readable = readableControllerOf(controller);
  return readable === undefined ? UNKNOWN : readableStanding(readable);
}

/**
 * The first end, from where each is kept: terminate()/error() on this controller; a cancel of
 * the readable side on its controller; writer.close()/abort() on the writable side's stream.
 */
function transformLate(controller: object, standing: ReadableStanding, method: string): WebLate {
  let holder = controller;
  let record = recordOf(controller);
  const writable = writableOf(controller);
  if ((record?.first ?? FIRST_NONE) === FIRST_NONE) {
    for (const other of [readableControllerOf(controller), writable]) {
      if (other === undefined) continue;
      const found = recordOf(other);
      if ((found !== undefined && found.first !== FIRST_NONE) || cancelPending(other)) {
        holder = other;
        record = found;
        break;
      }
    }
  }
  return {
    kind: webKind(record, standing, method === 'terminate'),
    target: controller,
    method,
    holder,
    record,
    side: 'controller',
    endOnWritable: holder === writable,
    erroredInside: standing === ERRORED,
    message: method === 'enqueue' ? 'Unable to enqueue' : 'TransformStream is already closed',
  };
}

/** The late branch, out of the wrappers (see readable.ts). */
function lateTransform(hook: Hook, self: object, standing: ReadableStanding, method: string, shape: LateShape, original: Function, args: unknown[], above: Function): unknown {
  return lateWebCall(hook, () => transformLate(self, standing, method), shape, self, original, args, above);
}

function makeEnqueue(original: Function, hook: Hook): Function {
  const kState = webInternals()!.kState;
  const wrapper = {
    enqueue(this: object, chunk?: unknown) {
      // the hot path first: an open readable side (the check Node's enqueue makes itself); the
      // original is called with its one parameter (see readable.ts)
      const c = (this as Record<symbol, any> | undefined)?.[kState]?.stream?.[kState]?.readable?.[kState]?.controller?.[kState];
      if (c?.closeRequested === false && c.stream?.[kState]?.state === 'readable') return original.call(this, chunk);
      if (idle(hook)) return original.call(this, chunk);
      const standing = standingOf(this);
      if (standing <= OPEN) return original.call(this, chunk);
      return lateTransform(hook, this, standing, 'enqueue', THROWING, original, [chunk], wrapper);
    },
  }.enqueue;
  return wrapper;
}

/** terminate() on a closed readable side: Node ignores it (Node 20–26); reported, passed through (strict throws). */
function makeTerminate(original: Function, hook: Hook): Function {
  const wrapper = {
    terminate(this: object) {
      if (idle(hook)) return original.call(this);
      const standing = standingOf(this);
      if (standing === UNKNOWN) return original.call(this);
      if (standing === OPEN) {
        recordWebEnd(hook, this, FIRST_END, 'terminate', wrapper);
        return original.call(this);
      }
      // Node ignores it: nothing to drop
      return lateTransform(hook, this, standing, 'terminate', NOT_DROPPED, original, [], wrapper);
    },
  }.terminate;
  return wrapper;
}

function makeError(original: Function, hook: Hook): Function {
  const wrapper = {
    error(this: object, reason?: unknown) {
      if (!idle(hook) && standingOf(this) === OPEN) recordWebEnd(hook, this, FIRST_DESTROY, 'error', wrapper);
      return original.call(this, reason);
    },
  }.error;
  return wrapper;
}

/** `get writable`: links the writable side to the readable side's controller (see linkTransformSides). */
function makeWritableGetter(original: Function, hook: Hook): Function {
  const kState = webInternals()!.kState;
  return function (this: object) {
    const writable: unknown = original.call(this);
    if (!idle(hook)) {
      try {
        const stream = canonicalWritable(writable);
        const readable = (this as Record<symbol, { readable?: object } | undefined>)?.[kState]?.readable;
        const controller = readable === undefined ? undefined : controllerOf(readable);
        if (stream !== undefined && controller !== undefined) linkTransformSides(stream, controller);
      } catch (error) {
        failed(hook, error);
      }
    }
    return writable;
  };
}

export function patchTransform(api: typeof web): void {
  wrapAccessor(api.TransformStream.prototype, 'writable', 'get', 'TransformStream', makeWritableGetter);
  const proto = api.TransformStreamDefaultController.prototype;
  wrapMethod(proto, 'enqueue', 'TransformStreamDefaultController', makeEnqueue);
  wrapMethod(proto, 'terminate', 'TransformStreamDefaultController', makeTerminate);
  wrapMethod(proto, 'error', 'TransformStreamDefaultController', makeError);
}
