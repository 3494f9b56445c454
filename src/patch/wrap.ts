import shimmer from 'shimmer';
import { flags } from '../flags';
import { warnInternal } from '../stderr';

const kWrapper = Symbol('endguard.wrapper');

/** One patched method; `disabled` makes its wrapper a pass-through after an internal error. */
export interface Hook {
  readonly name: string;
  disabled: boolean;
}

interface Wrapped {
  target: object;
  method: string | symbol;
  wrapper: Function;
  /** An accessor's original descriptor and the wrapped half (wrapAccessor), or a shared method's (shareWrapper); absent for methods. */
  descriptor?: PropertyDescriptor;
  part?: 'get' | 'set' | 'value';
}
const wrapped: Wrapped[] = [];

shimmer({ logger: (msg: string) => warnInternal('shimmer', msg) });

/** One of endguard's wrappers (wrapMethod, shareWrapper). */
export function isEndguardWrapper(fn: unknown): boolean {
  return typeof fn === 'function' && Object.prototype.hasOwnProperty.call(fn, kWrapper);
}

/** The agent failed inside a hook: it becomes a pass-through, and one warning is printed. */
export function failed(hook: Hook, error: unknown): void {
  hook.disabled = true;
  warnInternal(hook.name, error);
}

/** The wrapper's first check: nothing to do (hook disabled, or endguard itself is writing). */
export function idle(hook: Hook): boolean {
  return hook.disabled || flags.reporting;
}

/**
 * Wraps target[method] once (shimmer), keeping the original's name and length; only own
 * methods, never twice. `make` gets the original and the hook; it returns the wrapper.
 * `method` may be a symbol (Node's web streams keep internal steps such as `[kCancel]` on
 * their prototypes).
 */
export function wrapMethod(
  target: object | undefined | null,
  method: string | symbol,
  label: string,
  make: (original: Function, hook: Hook) => Function,
): boolean {
  if (target === undefined || target === null) return false;
  const current = (target as Record<string | symbol, unknown>)[method];
  if (typeof current !== 'function' || Object.prototype.hasOwnProperty.call(current, kWrapper)) return false;
  if (!Object.prototype.hasOwnProperty.call(target, method)) return false;
  const hook: Hook = { name: `${label}.${typeof method === 'symbol' ? `[${method.description ?? ''}]` : method}`, disabled: false };
  let made: Function | undefined;
  try {
    shimmer.wrap(target as Record<string, any>, method as string, (original: any) => {
      made = make(original as Function, hook);
      // shimmer keeps neither; Node 20's Writable.prototype.write.name is ''
      Object.defineProperty(made, 'name', { value: (original as Function).name, configurable: true });
      Object.defineProperty(made, 'length', { value: (original as Function).length, configurable: true });
      Object.defineProperty(made, kWrapper, { value: hook });
      return made as any;
    });
  } catch (error) {
    // a non-configurable or frozen target: leave it alone, patch the rest
    warnInternal(`wrapping ${hook.name}`, error);
    return false;
  }
  if (made === undefined || (target as Record<string | symbol, unknown>)[method] !== made) return false;
  wrapped.push({ target, method, wrapper: made });
  return true;
}

/**
 * Node shares one function between prototypes (Writable's write/end/destroy are Duplex's too;
 * ServerResponse's writeHead is its writeHeader): when `target[method]` is the function
 * `source[sourceMethod]` was before wrapMethod wrapped it, it gets that same wrapper, so the two
 * stay one function (`Duplex.prototype.write === Writable.prototype.write`). Returns false
 * when they were not shared; the caller then wraps it on its own.
 */
export function shareWrapper(target: object | undefined | null, method: string, source: object | undefined | null, sourceMethod: string): boolean {
  if (target === undefined || target === null || source === undefined || source === null) return false;
  const wrapper = (source as Record<string, unknown>)[sourceMethod] as (Function & { __original?: unknown }) | undefined;
  if (typeof wrapper !== 'function' || !Object.prototype.hasOwnProperty.call(wrapper, kWrapper)) return false;
  const descriptor = Object.getOwnPropertyDescriptor(target, method);
  if (descriptor === undefined || descriptor.value === undefined || descriptor.value !== wrapper.__original) return false;
  try {
    Object.defineProperty(target, method, { ...descriptor, value: wrapper });
  } catch (error) {
    warnInternal(`sharing the wrapper of ${sourceMethod} with ${method}`, error);
    return false;
  }
  wrapped.push({ target, method, wrapper, descriptor, part: 'value' });
  return true;
}

/**
 * Wraps a function a module exports as itself (readable-stream 3's pipeline.js, compression,
 * Fastify's wrapThenable), through a holder object lent to wrapMethod. Returns the wrapper,
 * which the app then gets instead, or undefined when it was not wrapped.
 */
export function wrapExported(fn: Function, name: string, label: string, make: (original: Function, hook: Hook) => Function): Function | undefined {
  const holder: Record<string, Function> = { [name]: fn };
  return wrapMethod(holder, name, label, make) ? holder[name] : undefined;
}

/**
 * Wraps the getter or setter of an own accessor property (Koa's `set body`, TransformStream's
 * `get writable`), like wrapMethod: once, the other half untouched, name and length kept,
 * restored by stop(). shimmer wraps only methods.
 */
export function wrapAccessor(
  target: object,
  property: string,
  part: 'get' | 'set',
  label: string,
  make: (original: Function, hook: Hook) => Function,
): boolean {
  const descriptor = Object.getOwnPropertyDescriptor(target, property);
  const original = descriptor?.[part];
  if (descriptor === undefined || original === undefined || !descriptor.configurable || Object.prototype.hasOwnProperty.call(original, kWrapper)) {
    return false;
  }
  const hook: Hook = { name: `${label}.${property}`, disabled: false };
  try {
    const made = make(original, hook);
    Object.defineProperty(made, 'name', { value: original.name, configurable: true });
    Object.defineProperty(made, 'length', { value: original.length, configurable: true });
    Object.defineProperty(made, kWrapper, { value: hook });
    Object.defineProperty(target, property, { ...descriptor, [part]: made });
    wrapped.push({ target, method: property, wrapper: made, descriptor, part });
    return true;
  } catch (error) {
    warnInternal(`wrapping ${hook.name}`, error);
    return false;
  }
}

/**
 * The object a wrapped call is running on, while it runs: the calls a library then makes on
 * that same object from inside it (end(chunk)'s own this.write(chunk), Fastify's nested send,
 * Koa's setters calling each other) belong to the outer call, not new ones.
 */
export class Running {
  current: object | null = null;

  /** `fn` applied to `self` with `args`, `self` current meanwhile (a nested run restores the outer one). */
  run(self: object, fn: Function, args: ArrayLike<unknown>): unknown {
    const previous = this.current;
    this.current = self;
    try {
      return fn.apply(self, args);
    } finally {
      this.current = previous;
    }
  }
}

/** Restores every original whose wrapper is still in place; the others become pass-throughs. */
export function unwrapAll(): void {
  for (const { target, method, wrapper, descriptor, part } of wrapped.splice(0)) {
    const hook = (wrapper as unknown as Record<symbol, Hook>)[kWrapper];
    if (hook !== undefined) hook.disabled = true;
    if (descriptor !== undefined && part !== undefined) {
      if (Object.getOwnPropertyDescriptor(target, method)?.[part] === wrapper) Object.defineProperty(target, method, descriptor);
    } else if ((target as Record<string | symbol, unknown>)[method] === wrapper) shimmer.unwrap(target as Record<string | symbol, any>, method as string);
  }
  flags.active = null;
}
