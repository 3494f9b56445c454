import type * as web from 'node:stream/web';
import type { ViolationKind } from '../../types';
import { idle, wrapMethod, type Hook } from '../wrap';
import { THROWING, lateWebCall } from './late';

// A Node whose web streams do not have the internal shape endguard checked (internals.ts): no
// state can be read and no end recorded. A late enqueue()/close() on a controller is still
// seen by the exception Node throws for it, and reported without its end site; Node's error is
// rethrown as it was (observe), or the call is dropped (enforce). Writers are left alone: their
// rejection cannot be seen before it is made.

function isLateError(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  return e !== null && typeof e === 'object' && e.code === 'ERR_INVALID_STATE' && typeof e.message === 'string' && /already closed|Unable to enqueue/.test(e.message);
}

const makeCaught = (method: string, kind: ViolationKind) => (original: Function, hook: Hook): Function => {
  const wrapper = {
    [method](this: object, chunk?: unknown) {
      // the originals read only their parameters (see readable.ts); close() takes none
      if (idle(hook)) return method === 'enqueue' ? original.call(this, chunk) : original.call(this);
      try {
        return method === 'enqueue' ? original.call(this, chunk) : original.call(this);
      } catch (error) {
        if (!isLateError(error)) throw error;
        const rethrow = () => {
          throw error;
        };
        const late = () => ({ kind, target: this, method, holder: this, record: undefined, side: 'controller' as const, message: (error as Error).message.replace(/^Invalid state: /, '') });
        return lateWebCall(hook, late, THROWING, this, rethrow, method === 'enqueue' ? [chunk] : [], wrapper);
      }
    },
  }[method]!;
  return wrapper;
};

export function patchWithoutInternals(api: typeof web): void {
  for (const [ctor, label] of [
    [api.ReadableStreamDefaultController, 'ReadableStreamDefaultController'],
    [api.ReadableByteStreamController, 'ReadableByteStreamController'],
    [api.TransformStreamDefaultController, 'TransformStreamDefaultController'],
  ] as const) {
    wrapMethod(ctor.prototype, 'enqueue', label, makeCaught('enqueue', 'write-after-end'));
  }
  wrapMethod(api.ReadableStreamDefaultController.prototype, 'close', 'ReadableStreamDefaultController', makeCaught('close', 'double-end'));
  wrapMethod(api.ReadableByteStreamController.prototype, 'close', 'ReadableByteStreamController', makeCaught('close', 'double-end'));
}
