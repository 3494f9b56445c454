import stream = require('node:stream');
import { failed, idle, wrapMethod, type Hook } from '../wrap';
import { linkNodeSide } from './ends';
import { canonicalWritable, controllerOf, webInternals } from './internals';

// Readable.toWeb / Writable.toWeb / Duplex.toWeb and the three fromWeb: Node's bridges between
// its streams and web streams. Each is a first use of web streams (it loads them), and a toWeb
// links the web side to its Node stream, so that the end of one side names the call made on the
// other (a writer.close() that ends the Node stream a tick later, a cancel that destroys it).

type Link = (result: unknown, node: unknown) => void;

function linkWritable(result: unknown, node: unknown): void {
  const stream = canonicalWritable(result);
  if (stream !== undefined && typeof node === 'object' && node !== null) linkNodeSide(stream, node);
}

function linkReadable(result: unknown, node: unknown): void {
  if (typeof result !== 'object' || result === null || typeof node !== 'object' || node === null) return;
  const controller = controllerOf(result);
  if (controller !== undefined) linkNodeSide(controller, node);
}

function linkPair(result: unknown, node: unknown): void {
  if (typeof result !== 'object' || result === null) return;
  const { readable, writable } = result as { readable?: unknown; writable?: unknown };
  linkReadable(readable, node);
  linkWritable(writable, node);
}

function makeBridge(firstUse: () => void, link: Link | null) {
  return (original: Function, hook: Hook): Function =>
    function bridge(this: unknown, node: unknown) {
      if (idle(hook)) return original.apply(this, arguments);
      firstUse();
      const result = original.apply(this, arguments);
      if (link !== null && webInternals() !== null) {
        try {
          link(result, node);
        } catch (error) {
          failed(hook, error);
        }
      }
      return result;
    };
}

export function patchBridges(firstUse: () => void): void {
  wrapMethod(stream.Readable, 'toWeb', 'Readable', makeBridge(firstUse, linkReadable));
  wrapMethod(stream.Writable, 'toWeb', 'Writable', makeBridge(firstUse, linkWritable));
  wrapMethod(stream.Duplex, 'toWeb', 'Duplex', makeBridge(firstUse, linkPair));
  for (const [ctor, label] of [
    [stream.Readable, 'Readable'],
    [stream.Writable, 'Writable'],
    [stream.Duplex, 'Duplex'],
  ] as const) {
    wrapMethod(ctor, 'fromWeb', label, makeBridge(firstUse, null));
  }
}
