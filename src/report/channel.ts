import * as dc from 'node:diagnostics_channel';
import type { ViolationReport } from '../types';
import { warnOnce } from '../runtime';

/** Hidden on each message: the OpenTelemetry context captured when the stream ended. */
export const kEndContext = Symbol('endguard.endContext');

// Created once at module top level (undici's shape); publishing is guarded by hasSubscribers.
export const channels = {
  violation: dc.channel('endguard:violation'),
};

type Subscriber = (message: unknown, name: string | symbol) => void;
type ChannelMethods = { subscribe(fn: Subscriber): void; unsubscribe(fn: Subscriber): boolean };

// A subscriber that throws would reach the host: Node rethrows subscriber errors as uncaught
// exceptions on the next tick, from inside the app's late write(). Every subscriber of this
// channel is fenced instead: its error is swallowed and reported once.
const fenced = new WeakMap<Subscriber, Subscriber>();
function fence(channel: dc.Channel): void {
  const target = channel as unknown as ChannelMethods;
  const methods = () => Object.getPrototypeOf(channel) as ChannelMethods;
  Object.defineProperty(target, 'subscribe', {
    configurable: true,
    writable: true,
    value(fn: Subscriber) {
      if (typeof fn !== 'function') return methods().subscribe.call(channel, fn);
      let wrapper = fenced.get(fn);
      if (wrapper === undefined) {
        wrapper = (message, name) => {
          try {
            fn(message, name);
          } catch (error) {
            const reason = error instanceof Error ? error.message : String(error);
            warnOnce('subscriber', `endguard: a subscriber of ${String(name)} threw (${reason}); its errors are caught and not reported again`);
          }
        };
        fenced.set(fn, wrapper);
      }
      return methods().subscribe.call(channel, wrapper);
    },
  });
  Object.defineProperty(target, 'unsubscribe', {
    configurable: true,
    writable: true,
    value(fn: Subscriber) {
      return methods().unsubscribe.call(channel, fenced.get(fn) ?? fn);
    },
  });
}
fence(channels.violation);

/** Publishes a report with `target` (non-enumerable, so subscribers can still JSON.stringify it). */
export function publishViolation(report: ViolationReport, target: object, endContext: unknown): void {
  if (!channels.violation.hasSubscribers) return;
  const message = { ...report };
  Object.defineProperty(message, 'target', { value: target, enumerable: false });
  Object.defineProperty(message, kEndContext, { value: endContext, enumerable: false });
  channels.violation.publish(message);
}
