import type * as web from 'node:stream/web';
import { FIRST_DESTROY, FIRST_END, FIRST_NONE } from '../../internal-types';
import { recordOf } from '../record';
import { idle, wrapMethod, type Hook } from '../wrap';
import { cancelPending, recordWebEnd } from './ends';
import { OPEN, readableControllerOf, readableStanding, writableOf, type ReadableStanding } from './internals';
import { IGNORED, THROWING, lateWebCall, webKind, type WebLate } from './late';

// TransformStreamDefaultController: enqueue() goes to the readable side, which closes on
// terminate(), on the writable side's close (after flush), or when its consumer cancels it.

function standingOf(controller: object): ReadableStanding {
  const readable = readableControllerOf(controller);
  return readable === undefined ? OPEN : readableStanding(readable);
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
    message: method === 'enqueue' ? 'Unable to enqueue' : 'TransformStream is already closed',
  };
}

function makeEnqueue(original: Function, hook: Hook): Function {
  const wrapper = {
    enqueue(this: object) {
      if (idle(hook)) return original.apply(this, arguments);
      const standing = standingOf(this);
      if (standing === OPEN) return original.apply(this, arguments);
      return lateWebCall(hook, () => transformLate(this, standing, 'enqueue'), THROWING, this, original, arguments, wrapper);
    },
  }.enqueue;
  return wrapper;
}

/** terminate() on a closed readable side: Node ignores it (Node 20–26); reported, passed through (strict throws). */
function makeTerminate(original: Function, hook: Hook): Function {
  const wrapper = {
    terminate(this: object) {
      if (idle(hook)) return original.apply(this, arguments);
      const standing = standingOf(this);
      if (standing === OPEN) {
        recordWebEnd(hook, this, FIRST_END, 'terminate', wrapper);
        return original.apply(this, arguments);
      }
      return lateWebCall(hook, () => transformLate(this, standing, 'terminate'), IGNORED, this, original, arguments, wrapper);
    },
  }.terminate;
  return wrapper;
}

function makeError(original: Function, hook: Hook): Function {
  const wrapper = {
    error(this: object) {
      if (!idle(hook) && standingOf(this) === OPEN) recordWebEnd(hook, this, FIRST_DESTROY, 'error', wrapper);
      return original.apply(this, arguments);
    },
  }.error;
  return wrapper;
}

export function patchTransform(api: typeof web): void {
  const proto = api.TransformStreamDefaultController.prototype;
  wrapMethod(proto, 'enqueue', 'TransformStreamDefaultController', makeEnqueue);
  wrapMethod(proto, 'terminate', 'TransformStreamDefaultController', makeTerminate);
  wrapMethod(proto, 'error', 'TransformStreamDefaultController', makeError);
}
