import type { ReportFact } from '../internal-types';
import { channels } from '../channels';
import { warnInternal } from '../stderr';
import { packageVersion } from '../version';
import { ATTR_EXCEPTION_MESSAGE, EVENT_EXCEPTION, SPAN_NAME_PREFIX, TRACER_NAME } from '../semconv';
import { lazy } from '../lazy-load';
import type { Attributes } from './otel-attributes';
import { REGISTRY_KEY } from './otel-registry';

// endguard talks to OpenTelemetry through the API's process-wide registry instead of
// require('@opentelemetry/api'): the registry is what every copy of the 1.x API shares, so
// this works whichever copy the app registered its SDK with, loads nothing, and avoids the
// API's own version gate (a 1.10 copy resolved from endguard refuses a 1.9 app's registry
// and silently hands out no-op tracers). Only the stable 1.x interfaces below are used.

/** The API's `createContextKey('OpenTelemetry Context Key SPAN')` is `Symbol.for` of that text. */
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');
const SPAN_STATUS_ERROR = 2; // SpanStatusCode.ERROR
const SPAN_KIND_INTERNAL = 0; // SpanKind.INTERNAL

interface OtelContext {
  getValue(key: symbol): unknown;
}
interface OtelSpanContext {
  traceId: string;
  spanId: string;
}
interface OtelSpan {
  spanContext(): OtelSpanContext;
  isRecording(): boolean;
  addEvent(name: string, attributes?: Attributes): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}
interface OtelTracer {
  startSpan(
    name: string,
    options?: { kind?: number; attributes?: Attributes; links?: { context: OtelSpanContext }[] },
    context?: OtelContext,
  ): OtelSpan;
}
interface OtelRegistry {
  version?: string;
  trace?: { getTracer(name: string, version?: string): OtelTracer };
  context?: { active(): OtelContext };
}

const holder = globalThis as unknown as Record<symbol, OtelRegistry | undefined>;

/** Has an OpenTelemetry SDK (any copy of the 1.x API) registered a tracer provider in this process? */
export function tracerProviderRegistered(): boolean {
  return holder[REGISTRY_KEY]?.trace !== undefined;
}

let started = false;
let tracer: OtelTracer | null = null;
let tracerSource: unknown = null;
/** The context active when each stream was first ended or destroyed (only streams ended inside a span). */
let endContexts = new WeakMap<object, OtelContext>();

/**
 * Subscriber of the `ended` fact, subscribed only once an SDK registered: runs at every first
 * end/destroy of every stream. The context manager's active() (an AsyncLocalStorage read) is
 * kept so a late write can find its request.
 */
function onEnded(stream: unknown): void {
  const api = holder[REGISTRY_KEY];
  if (api === undefined || api.trace === undefined || api.context === undefined) return;
  try {
    const context = api.context.active();
    // no span to parent a later report under (e.g. a stream outside any request): keep nothing
    if (contextSpan(context) !== undefined && !endContexts.has(stream as object)) endContexts.set(stream as object, context);
  } catch (error) {
    fail(error);
  }
}

function fail(error: unknown): void {
  stopOtel();
  warnInternal('the OpenTelemetry reporter', error);
}

function tracerOf(api: OtelRegistry & { trace: NonNullable<OtelRegistry['trace']> }): OtelTracer {
  if (tracer === null || tracerSource !== api.trace) {
    tracer = api.trace.getTracer(TRACER_NAME, packageVersion());
    tracerSource = api.trace;
  }
  return tracer;
}

function contextSpan(context: unknown): OtelSpan | undefined {
  if (context === undefined || context === null || typeof (context as OtelContext).getValue !== 'function') return undefined;
  return (context as OtelContext).getValue(SPAN_KEY) as OtelSpan | undefined;
}

function onReport(message: unknown): void {
  const { report, target } = message as ReportFact;
  const api = holder[REGISTRY_KEY];
  if (report === null || api === undefined || api.trace === undefined || api.context === undefined) return;
  try {
    const { exceptionAttributes, exceptionType, spanAttributes } = lazy();
    const attributes = exceptionAttributes(report);
    const lateContext = api.context.active();
    const active = contextSpan(lateContext);
    const endContext = endContexts.get(target);
    const ended = contextSpan(endContext);
    const recording = active !== undefined && active.isRecording();
    if (recording) active.addEvent(EVENT_EXCEPTION, attributes);
    // Done when that span is in the broken request's trace (the usual synchronous case). Not
    // when the late call runs for another request (a pub-sub message published by it): the
    // event above tells that request what its code did, the span below tells the broken one.
    if (recording && (ended === undefined || ended.spanContext().traceId === active.spanContext().traceId)) return;
    // The request's span has usually ended by now (an event on it would be dropped): report
    // under the span that was active when the stream was ended, in a span of our own.
    const parent = ended !== undefined ? (endContext as OtelContext) : lateContext;
    const options: Parameters<OtelTracer['startSpan']>[1] = { kind: SPAN_KIND_INTERNAL, attributes: spanAttributes(report) };
    if (recording) options.links = [{ context: active.spanContext() }];
    const span = tracerOf(api as Parameters<typeof tracerOf>[0]).startSpan(SPAN_NAME_PREFIX + report.kind, options, parent);
    span.addEvent(EVENT_EXCEPTION, attributes);
    span.setStatus({ code: SPAN_STATUS_ERROR, message: `${exceptionType(report)}: ${attributes[ATTR_EXCEPTION_MESSAGE]}` });
    span.end();
  } catch (error) {
    fail(error);
  }
}

/**
 * Subscribes the OpenTelemetry reporter. It does OpenTelemetry work only once an SDK has
 * registered, before or after endguard started; until then ends publish nothing to it and
 * each violation costs one registry lookup.
 */
export function startOtel(): void {
  if (started) return;
  started = true;
  channels.report.subscribe(onReport);
  if (holder[REGISTRY_KEY] !== undefined || !watchRegistration()) followEnds();
}

let endsFollowed = false;
function followEnds(): void {
  if (started && !endsFollowed) {
    endsFollowed = true;
    channels.ended.subscribe(onEnded);
  }
}

/**
 * Until an SDK registers, ends should not pay even the publish: an accessor on the registry's
 * global key (which the API assigns, `global[key] = global[key] ?? {...}`) subscribes to the
 * `ended` fact when that happens. False when the key cannot be watched.
 */
function watchRegistration(): boolean {
  try {
    Object.defineProperty(globalThis, REGISTRY_KEY, { configurable: true, enumerable: false, get: unregistered, set: registered });
    return true;
  } catch {
    return false;
  }
}

function unregistered(): undefined {
  return undefined;
}

/** The API assigned the key: it becomes the data property the API would have made, and ends are followed. */
function registered(next: OtelRegistry | undefined): void {
  Object.defineProperty(globalThis, REGISTRY_KEY, { value: next, writable: true, enumerable: true, configurable: true });
  if (next !== undefined) followEnds();
}

/** stop() before any SDK registered: the key is absent again, as without endguard. */
function unwatchRegistration(): void {
  if (Object.getOwnPropertyDescriptor(globalThis, REGISTRY_KEY)?.get === unregistered) delete (globalThis as Record<symbol, unknown>)[REGISTRY_KEY];
}

export function stopOtel(): void {
  if (!started) return;
  started = false;
  channels.report.unsubscribe(onReport);
  unwatchRegistration();
  if (endsFollowed) channels.ended.unsubscribe(onEnded);
  endsFollowed = false;
  endContexts = new WeakMap();
  tracer = null;
  tracerSource = null;
}
