import * as dc from 'node:diagnostics_channel';
import { fileURLToPath } from 'node:url';
import type { Config, ViolationMessage, ViolationReport } from '../types';
import { runtime, warnInternal } from '../runtime';
import { parseSite } from '../callsite';
import { kEndContext } from './channel';
import {
  ATTR_CODE_COLUMN_NUMBER,
  ATTR_CODE_FILE_PATH,
  ATTR_CODE_FUNCTION_NAME,
  ATTR_CODE_LINE_NUMBER,
  ATTR_ENDGUARD_CAUSE,
  ATTR_ENDGUARD_END_SITE,
  ATTR_ENDGUARD_END_STACKTRACE,
  ATTR_ENDGUARD_HINT,
  ATTR_ENDGUARD_KIND,
  ATTR_ENDGUARD_LATE_SITE,
  ATTR_EXCEPTION_MESSAGE,
  ATTR_EXCEPTION_STACKTRACE,
  ATTR_EXCEPTION_TYPE,
  EVENT_EXCEPTION,
  SPAN_NAME_PREFIX,
  TRACER_NAME,
} from '../semconv';

// endguard talks to OpenTelemetry through the API's process-wide registry instead of
// require('@opentelemetry/api'): the registry is what every copy of the 1.x API shares, so
// this works whichever copy the app registered its SDK with, loads nothing, and avoids the
// API's own version gate (a 1.10 copy resolved from endguard refuses a 1.9 app's registry
// and silently hands out no-op tracers). Only the stable 1.x interfaces below are used.

/** `Symbol.for('opentelemetry.js.api.' + major)`, API 1.x. */
const REGISTRY_KEY = Symbol.for('opentelemetry.js.api.1');
/** The API's `createContextKey('OpenTelemetry Context Key SPAN')` is `Symbol.for` of that text. */
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');
const SPAN_STATUS_ERROR = 2; // SpanStatusCode.ERROR
const SPAN_KIND_INTERNAL = 0; // SpanKind.INTERNAL

type Attributes = Record<string, string | number>;

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

let subscriber: ((message: unknown) => void) | null = null;
let tracer: OtelTracer | null = null;
let tracerSource: unknown = null;

/**
 * runtime.captureContext: runs at every first end/destroy of every stream. Without a
 * registered SDK it is one symbol lookup on globalThis (a few ns); with one, the context
 * manager's active() (an AsyncLocalStorage read), kept so a late write can find its request.
 */
function captureContext(): unknown {
  const api = holder[REGISTRY_KEY];
  if (api === undefined || api.trace === undefined || api.context === undefined) return undefined;
  try {
    const context = api.context.active();
    // no span to parent a later report under (e.g. a stream outside any request): keep nothing
    return contextSpan(context) === undefined ? undefined : context;
  } catch (error) {
    fail(error);
    return undefined;
  }
}

function fail(error: unknown): void {
  stopOtel();
  warnInternal('the OpenTelemetry reporter', error);
}

function tracerOf(api: OtelRegistry & { trace: NonNullable<OtelRegistry['trace']> }): OtelTracer {
  if (tracer === null || tracerSource !== api.trace) {
    tracer = api.trace.getTracer(TRACER_NAME, version());
    tracerSource = api.trace;
  }
  return tracer;
}

let cachedVersion: string | undefined;
function version(): string {
  if (cachedVersion === undefined) {
    try {
      cachedVersion = (require('../../package.json') as { version: string }).version;
    } catch {
      cachedVersion = 'unknown';
    }
  }
  return cachedVersion;
}

function locationPath(location: string): string {
  if (!location.startsWith('file://')) return location;
  try {
    return fileURLToPath(location);
  } catch {
    return location;
  }
}

/** The function name V8 printed on the stack frame at `site` (`at name (file:line:col)`), if any. */
export function functionAt(stack: string, site: string | null): string | null {
  const wanted = parseSite(site);
  if (wanted === null) return null;
  for (const raw of stack.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith('at ') || !line.endsWith(')')) continue;
    const open = line.lastIndexOf(' (');
    if (open === -1) continue;
    const at = parseSite(line.slice(open + 2, -1));
    if (at === null || at.line !== wanted.line || at.column !== wanted.column || locationPath(at.file) !== wanted.file) continue;
    const name = line.slice(3, open).replace(/^async /, '');
    return name === '' || name === '<anonymous>' ? null : name;
  }
  return null;
}

/** The Node error message of the late call: the first line of the late stack without `Error [CODE]: `. */
export function lateMessage(report: ViolationReport): string {
  const first = report.lateStack.split('\n', 1)[0] ?? '';
  const prefix = `Error [${report.code}]: `;
  if (first.startsWith(prefix) && first.length > prefix.length) return first.slice(prefix.length);
  return `${report.kind.replace(/-/g, ' ')} (${report.type}.${report.method})`;
}

/** The `exception` event's attributes for a report (semconv exception.* and code.*, plus endguard.*). */
export function exceptionAttributes(report: ViolationReport): Attributes {
  const attributes: Attributes = {
    [ATTR_EXCEPTION_TYPE]: report.code,
    [ATTR_EXCEPTION_MESSAGE]: lateMessage(report),
    [ATTR_EXCEPTION_STACKTRACE]: report.lateStack,
    [ATTR_ENDGUARD_KIND]: report.kind,
    [ATTR_ENDGUARD_CAUSE]: report.cause,
    [ATTR_ENDGUARD_HINT]: report.hint,
  };
  if (report.endStack !== null) attributes[ATTR_ENDGUARD_END_STACKTRACE] = report.endStack;
  if (report.endSite !== null) attributes[ATTR_ENDGUARD_END_SITE] = report.endSite;
  if (report.lateSite !== null) attributes[ATTR_ENDGUARD_LATE_SITE] = report.lateSite;
  const late = parseSite(report.lateSite);
  if (late !== null) {
    attributes[ATTR_CODE_FILE_PATH] = late.file;
    attributes[ATTR_CODE_LINE_NUMBER] = late.line;
    attributes[ATTR_CODE_COLUMN_NUMBER] = late.column;
    const fn = functionAt(report.lateStack, report.lateSite);
    if (fn !== null) attributes[ATTR_CODE_FUNCTION_NAME] = fn;
  }
  return attributes;
}

/** The attributes of the child span itself, so backends that index only span attributes find it. */
function spanAttributes(report: ViolationReport): Attributes {
  const attributes: Attributes = { [ATTR_ENDGUARD_KIND]: report.kind, [ATTR_ENDGUARD_CAUSE]: report.cause };
  if (report.endSite !== null) attributes[ATTR_ENDGUARD_END_SITE] = report.endSite;
  if (report.lateSite !== null) attributes[ATTR_ENDGUARD_LATE_SITE] = report.lateSite;
  return attributes;
}

function contextSpan(context: unknown): OtelSpan | undefined {
  if (context === undefined || context === null || typeof (context as OtelContext).getValue !== 'function') return undefined;
  return (context as OtelContext).getValue(SPAN_KEY) as OtelSpan | undefined;
}

function onViolation(message: unknown): void {
  const api = holder[REGISTRY_KEY];
  if (api === undefined || api.trace === undefined || api.context === undefined) return;
  try {
    const report = message as ViolationMessage;
    const attributes = exceptionAttributes(report);
    const lateContext = api.context.active();
    const active = contextSpan(lateContext);
    const endContext = (message as Record<symbol, unknown>)[kEndContext];
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
    span.setStatus({ code: SPAN_STATUS_ERROR, message: `${report.code}: ${attributes[ATTR_EXCEPTION_MESSAGE]}` });
    span.end();
  } catch (error) {
    fail(error);
  }
}

/**
 * Subscribes the OpenTelemetry reporter. It does OpenTelemetry work only once an SDK has
 * registered a tracer provider, before or after endguard started; until then each end costs
 * one registry lookup and each violation one more.
 */
export function startOtel(_config: Config): void {
  if (subscriber !== null) return;
  subscriber = onViolation;
  dc.subscribe('endguard:violation', onViolation);
  if (holder[REGISTRY_KEY] !== undefined || !watchRegistration()) runtime.captureContext = captureContext;
}

/**
 * Until an SDK registers, ends should not pay even the registry lookup: an accessor on the
 * registry's global key (which the API assigns, `global[key] = global[key] ?? {...}`)
 * switches the end-time capture on when that happens. False when the key cannot be watched.
 */
function watchRegistration(): boolean {
  let value: OtelRegistry | undefined;
  try {
    Object.defineProperty(globalThis, REGISTRY_KEY, {
      configurable: true,
      enumerable: true,
      get: () => value,
      set: (next: OtelRegistry | undefined) => {
        value = next;
        if (subscriber !== null && next !== undefined) runtime.captureContext = captureContext;
      },
    });
    return true;
  } catch {
    return false;
  }
}

export function stopOtel(): void {
  if (subscriber !== null) dc.unsubscribe('endguard:violation', subscriber);
  subscriber = null;
  tracer = null;
  tracerSource = null;
  if (runtime.captureContext === captureContext) runtime.captureContext = null;
}
