import type { ViolationKind } from './types';

/** An Error shaped like Node's internal ones: `Error [CODE]: message`, with `code`. */
export function lateError(code: string, message: string): Error {
  const error = new Error(message) as Error & { code: string };
  error.code = code;
  Object.defineProperty(error, 'name', { value: `Error [${code}]`, configurable: true, writable: true });
  void error.stack; // format the stack with the bracketed name, as Node does
  delete (error as { name?: string }).name;
  return error;
}

const VERB: Record<ViolationKind, string> = {
  'write-after-end': 'after the stream was ended',
  'write-after-destroy': 'after the stream was destroyed',
  'double-end': 'after the stream was already ended',
  'headers-after-sent': 'after the headers were sent',
};

/** strict mode: the error thrown at the late call site; its message names the end site. */
export function strictError(
  kind: ViolationKind,
  method: string,
  endSite: string | null,
  note: string | null,
  above: Function,
): Error {
  const verb = kind === 'headers-after-sent' ? 'headers sent' : kind === 'write-after-destroy' ? 'destroyed' : 'ended';
  const where = endSite !== null ? `${verb} at ${endSite}` : `${verb} at an unknown site: ${note ?? 'not captured'}`;
  const error = new Error(`endguard: ${method}() ${VERB[kind]} (${kind}; ${where})`) as Error & { code: string };
  error.code = 'ERR_ENDGUARD_' + kind.toUpperCase().replace(/-/g, '_');
  Error.captureStackTrace(error, above);
  return error;
}

/** enforce: a dropped call still answers its callback, asynchronously, as Node would. */
export function callbackLater(callback: unknown, error: Error): void {
  if (typeof callback === 'function') process.nextTick(callback as (e: Error) => void, error);
}

/** The callback of end(chunk?, encoding?, cb?), wherever the caller put it. */
export function endCallback(chunk: unknown, encoding: unknown, cb: unknown): unknown {
  return typeof chunk === 'function' ? chunk : typeof encoding === 'function' ? encoding : cb;
}
