import type { Frame } from '../internal-types';
import { PACKAGE_PATH } from './callsite';

/** What the frames of a cancel (or of an error/abort a Node adapter made) tell about who made it. */
export interface CancelOrigin {
  /**
   * It ran inside the 'close' of an HTTP response whose connection closed before the response
   * finished (Node's onServerResponseClose, node:_http_server, Node 20–26): a server adapter
   * (@hono/node-server, pipeline(), Writable.toWeb) ended the body because the client went away.
   */
  httpClose: boolean;
  /** A library that made the call when no code of the app did, e.g. `fetch (undici, node:internal/deps/undici/undici:12:3)`; null otherwise. */
  canceller: string | null;
}


/**
 * The library behind a frame that is not the app's own: a package, or one of Node's own
 * libraries that consume web streams. null for Node's plumbing (streams, timers, primordials).
 */
function libraryOf(frame: Frame): string | null {
  const pkg = PACKAGE_PATH.exec(frame.file);
  if (pkg !== null) return pkg[1]!.replace(/\\/g, '/');
  const at = `${frame.file}:${frame.line}:${frame.column}`;
  if (frame.file.startsWith('node:internal/deps/undici/')) return `fetch (undici, ${at})`;
  if (frame.file === 'node:internal/webstreams/adapters') return `a Node stream adapter (Readable.fromWeb / Writable.toWeb, ${at})`;
  return null;
}

/** Pure: reads the frames of the cancel (or error) call, innermost first. */
export function cancelOrigin(frames: readonly Frame[]): CancelOrigin {
  let httpClose = false;
  let canceller: string | null = null;
  let userSeen = false;
  for (const frame of frames) {
    if (frame.fn === 'onServerResponseClose' && frame.file === 'node:_http_server') httpClose = true;
    if (frame.kind === 'user') userSeen = true;
    else if (!userSeen && canceller === null && (frame.kind === 'dependency' || frame.file.startsWith('node:'))) canceller = libraryOf(frame);
  }
  return { httpClose, canceller: userSeen ? null : canceller };
}

/**
 * The cancel (or abort) reason as a report may name it: its error code, else its name
 * (`AbortError`, `TypeError`), never its message, which can carry data. Reading a property of
 * the app's object may run its getter: it is read once, guarded.
 */
export function reasonLabel(reason: unknown): string | null {
  if (reason === undefined || reason === null) return null;
  if (typeof reason !== 'object' && typeof reason !== 'function') return typeof reason === 'string' ? 'a string' : typeof reason;
  if (Array.isArray(reason)) return 'an array';
  try {
    const { code, name } = reason as { code?: unknown; name?: unknown };
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,63}$/.test(code)) return code;
    if (typeof name === 'string' && /^[A-Za-z][\w$]{0,63}$/.test(name)) return name;
  } catch {
    // a throwing getter or a revoked proxy: say nothing about it
  }
  return 'an object';
}
