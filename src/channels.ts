import * as dc from 'node:diagnostics_channel';
import { warnOnce } from './stderr';

/** The public channel every violation report is published on. */
export const VIOLATION_CHANNEL = 'endguard:violation';

// Created once at module top level (undici's shape); every publish is guarded by hasSubscribers.
// The two private channels are named by unexported symbols: only endguard can subscribe.
export const channels = {
  /** PUBLIC: the report, plus the stream as a non-enumerable `target`. */
  violation: dc.channel(VIOLATION_CHANNEL),
  /** PRIVATE, to endguard's reporters: a `ReportFact` per violation, whatever the throttle decided. */
  report: dc.channel(Symbol('endguard.report')),
  /**
   * PRIVATE: a stream's first end or destroy (the message is the stream). Published only while
   * someone subscribes: the OpenTelemetry reporter, once an SDK is registered, keeps the
   * context active at that moment for a later late write.
   */
  ended: dc.channel(Symbol('endguard.ended')),
};

type Subscriber = (message: unknown, name: string | symbol) => void;
type ChannelMethods = { subscribe(fn: Subscriber): void; unsubscribe(fn: Subscriber): boolean };

// A subscriber that throws would reach the host: Node rethrows a subscriber's error as an
// uncaught exception on the next tick, from inside the app's late write(). So every subscriber
// of the public channel is fenced: its error is swallowed and reported once. The overrides sit
// on the channel instance; Node's own Channel#subscribe re-enters `this.subscribe` after
// activating the channel (Node 20–26), so a function that already is a fence passes through.
const fenceOf = new WeakMap<Subscriber, Subscriber>();
const fences = new WeakSet<Subscriber>();

function fenced(fn: Subscriber): Subscriber {
  if (fences.has(fn)) return fn;
  let fence = fenceOf.get(fn);
  if (fence === undefined) {
    fence = (message, name) => {
      try {
        fn(message, name);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        warnOnce('subscriber', `endguard: a subscriber of ${String(name)} threw (${reason}); its errors are caught and not reported again`);
      }
    };
    fenceOf.set(fn, fence);
    fences.add(fence);
  }
  return fence;
}

function fenceSubscribers(channel: dc.Channel): void {
  const methods = () => Object.getPrototypeOf(channel) as ChannelMethods;
  Object.defineProperty(channel, 'subscribe', {
    configurable: true,
    writable: true,
    value(fn: Subscriber) {
      return methods().subscribe.call(channel, typeof fn === 'function' ? fenced(fn) : fn);
    },
  });
  Object.defineProperty(channel, 'unsubscribe', {
    configurable: true,
    writable: true,
    value(fn: Subscriber) {
      return methods().unsubscribe.call(channel, (typeof fn === 'function' && fenceOf.get(fn)) || fn);
    },
  });
}

/**
 * Subscribers that were there before endguard loaded (a preload ahead of it, NODE_OPTIONS
 * ahead of the CLI's): re-subscribed behind their fence, in their order. Node 20–26 keep them
 * in the channel's `_subscribers`.
 */
function fenceExisting(channel: dc.Channel): void {
  const existing = (channel as unknown as { _subscribers?: unknown })._subscribers;
  if (!Array.isArray(existing) || existing.length === 0) return;
  const own = channel as unknown as ChannelMethods;
  for (const fn of [...existing] as unknown[]) {
    if (typeof fn !== 'function' || fences.has(fn as Subscriber)) continue;
    // the overrides of fenceSubscribers(): this one has no fence yet, the new one gets it
    own.unsubscribe(fn as Subscriber);
    own.subscribe(fn as Subscriber);
  }
}

fenceSubscribers(channels.violation);
try {
  fenceExisting(channels.violation);
} catch {
  // a Node whose channels keep their subscribers elsewhere: those are left unfenced
}
