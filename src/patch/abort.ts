import { whileAborting } from './capture';
import { failed, idle, wrapMethod, type Hook } from './wrap';

// AbortController#abort(), wrapped once for two users: the ends its signal causes are captured
// deep enough to reach the app's abort() (capture.ts), and the web stream patch, once loaded,
// keeps the site of an abort that stops a pipeTo()'s pipe (web/readable.ts, onAbort()).

type AbortListener = (hook: Hook, controller: object, above: Function) => void;
let listener: AbortListener | null = null;

/** The web stream patch's: called before each abort() runs, with the controller. */
export function onAbort(run: AbortListener): void {
  listener = run;
}

function makeAbort(original: Function, hook: Hook): Function {
  // a method: like Node's abort(), not a constructor
  const wrapper = {
    abort(this: object) {
      if (idle(hook)) return original.apply(this, arguments);
      if (listener !== null) {
        try {
          listener(hook, this, wrapper);
        } catch (error) {
          failed(hook, error);
        }
      }
      const args = arguments;
      return whileAborting(() => original.apply(this, args));
    },
  }.abort;
  return wrapper;
}

/** Wraps AbortController#abort() once, whichever of its users comes first. */
export function patchAbort(): void {
  if (typeof AbortController === 'function') wrapMethod(AbortController.prototype, 'abort', 'AbortController', makeAbort);
}
