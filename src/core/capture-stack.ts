import type { Capture } from '../internal-types';

const ErrorCtor = Error as ErrorConstructor & { stackTraceLimit: number };

/**
 * Captures the current stack without formatting it (callsite.ts resolves it, at a report).
 * `above` and every frame above it are hidden, so the wrapper never appears. The user's
 * Error.stackTraceLimit is restored.
 */
export function captureStack(limit: number, above: Function): Capture {
  const holder: Capture = {};
  const previous = ErrorCtor.stackTraceLimit;
  try {
    ErrorCtor.stackTraceLimit = limit;
    Error.captureStackTrace(holder, above);
  } finally {
    ErrorCtor.stackTraceLimit = previous;
  }
  return holder;
}
