import type { ViolationKind } from '../types';

/** Node's own code and message for each kind of late call on a node stream or response. */
export const NODE_ERRORS: Record<ViolationKind, { code: string; message: string }> = {
  'write-after-end': { code: 'ERR_STREAM_WRITE_AFTER_END', message: 'write after end' },
  'write-after-destroy': { code: 'ERR_STREAM_DESTROYED', message: 'Cannot call write after a stream was destroyed' },
  'double-end': { code: 'ERR_STREAM_ALREADY_FINISHED', message: 'Cannot call end after a stream was finished' },
  'headers-after-sent': { code: 'ERR_HTTP_HEADERS_SENT', message: 'Cannot set headers after they are sent to the client' },
};

/** An Error shaped like Node's internal ones: `Error [CODE]: message`, with `code`. */
export function nodeError(code: string, message: string): Error {
  const error = new Error(message) as Error & { code: string };
  error.code = code;
  Object.defineProperty(error, 'name', { value: `Error [${code}]`, configurable: true, writable: true });
  void error.stack; // format the stack with the bracketed name, as Node does
  delete (error as { name?: string }).name;
  return error;
}

const AFTER: Record<ViolationKind, string> = {
  'write-after-end': 'after the stream was ended',
  'write-after-destroy': 'after the stream was destroyed',
  'double-end': 'after the stream was already ended',
  'headers-after-sent': 'after the headers were sent',
};

/** What strict mode needs to name in its error. */
export interface StrictFacts {
  kind: ViolationKind;
  method: string;
  /** How the late call reads in the message ('reply.send()', 'set ctx.body'); by default `method()`. */
  call?: string;
  endSite: string | null;
  /** Why endSite is null. */
  note: string | null;
  /** Set when the late call was made by stream internals (a pipe): the site of the code behind it. */
  lateSite?: string | null;
  /** Who made that call: stream internals (default), or a dependency with no frame of the user's code below it. */
  via?: 'internals' | 'dependency';
  /**
   * Thrown at the user's late call made through a framework (Express's res.json → res.set):
   * the stack starts at this site, the user's frame, without the framework's frames above it.
   */
  startAt?: string | null;
}

/** The stack without the frames above the first one at `site`; unchanged when no frame shows it (a custom prepareStackTrace). */
function startStackAt(error: Error, site: string): void {
  const stack = error.stack;
  if (typeof stack !== 'string') return;
  const lines = stack.split('\n');
  const first = lines.findIndex((line) => /^\s+at /.test(line));
  if (first === -1) return;
  const own = lines.findIndex((line, i) => i > first && /^\s+at /.test(line) && (line.endsWith(`(${site})`) || line.endsWith(` ${site}`)));
  if (own !== -1) error.stack = [...lines.slice(0, first), ...lines.slice(own)].join('\n');
}

/**
 * strict mode: the error thrown at the late call site (or, for a call made by stream internals,
 * raised on the next tick); its message names the end site. `above` and the frames above it
 * are hidden, so the stack starts at the caller.
 */
/** Every strict error endguard threw: a framework that catches one (Fastify) may hand it back. */
const strictErrors = new WeakSet<object>();

export function isStrictError(error: unknown): error is Error {
  return typeof error === 'object' && error !== null && strictErrors.has(error);
}

export function strictError(facts: StrictFacts, above: Function): Error {
  const { kind, method, endSite, note } = facts;
  const verb = kind === 'headers-after-sent' ? 'headers sent' : kind === 'write-after-destroy' ? 'destroyed' : 'ended';
  const where = endSite !== null ? `${verb} at ${endSite}` : `${verb} at an unknown site: ${note ?? 'not captured'}`;
  const late =
    facts.lateSite === undefined
      ? ''
      : facts.via === 'dependency'
        ? `; the late call was made by a dependency at ${facts.lateSite ?? 'an unknown site'}, with no frame of your code below it`
        : `; the late call came from stream internals set up at ${facts.lateSite ?? 'an unknown site'}`;
  const error = new Error(`endguard: ${facts.call ?? `${method}()`} ${AFTER[kind]} (${kind}; ${where}${late})`) as Error & { code: string };
  error.code = 'ERR_ENDGUARD_' + kind.toUpperCase().replace(/-/g, '_');
  Error.captureStackTrace(error, above);
  if (facts.startAt != null) startStackAt(error, facts.startAt);
  strictErrors.add(error);
  return error;
}
