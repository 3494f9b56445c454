import { linkNodeReader, linkNodeSide } from './ends';
import { canonicalWritable, controllerOf, webInternals } from './internals';

// What a bridge links (load.ts, once web streams are patched): the web side's holder of ends →
// its Node stream (toWeb), or the Node stream reading it (Readable.fromWeb).

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

/** Writable.toWeb(node): the WritableStream. */
export function writable(result: unknown, node: unknown): void {
  const stream = canonicalWritable(result);
  if (stream !== undefined && isObject(node)) linkNodeSide(stream, node);
}

/** Readable.toWeb(node): the ReadableStream's controller. */
export function readable(result: unknown, node: unknown): void {
  if (!isObject(result) || !isObject(node)) return;
  const controller = controllerOf(result);
  if (controller !== undefined) linkNodeSide(controller, node);
}

/** Readable.fromWeb(web): the Node stream reading the ReadableStream, by its controller. */
export function fromWeb(result: unknown, web: unknown): void {
  if (!isObject(result) || !isObject(web)) return;
  const controller = controllerOf(web);
  if (controller !== undefined) linkNodeReader(controller, result);
}

/** Duplex.toWeb(node): { readable, writable }. */
export function pair(result: unknown, node: unknown): void {
  if (!isObject(result)) return;
  const { readable: r, writable: w } = result as { readable?: unknown; writable?: unknown };
  readable(r, node);
  writable(w, node);
}

export function ready(): boolean {
  return webInternals() !== null;
}
