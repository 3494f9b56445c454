import type { ViolationKind, ViolationReport } from '../types';
import { parseSite } from '../core/callsite';
import { lateFunctionOf } from '../build/report';
import { typeNameOf } from '../core/stream-type';
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
  ATTR_ENDGUARD_TYPE,
  ATTR_EXCEPTION_MESSAGE,
  ATTR_EXCEPTION_STACKTRACE,
  ATTR_EXCEPTION_TYPE,
  ATTR_HTTP_ROUTE,
} from '../semconv';

// The OpenTelemetry attributes of a report: semconv exception.* and code.*, plus endguard.*. Pure.

export type Attributes = Record<string, string | number>;

/** The Node error message of the late call: the first line of the late stack without `Error [CODE]: `. */
export function lateMessage(report: ViolationReport): string {
  const first = report.lateStack.split('\n', 1)[0] ?? '';
  const prefix = report.code === null ? 'Error: ' : `Error [${report.code}]: `;
  if (first.startsWith(prefix) && first.length > prefix.length) return first.slice(prefix.length);
  return `${report.kind.replace(/-/g, ' ')} (${report.type}.${report.method})`;
}

/** semconv `exception.type`: the error code; the kind when the library raises none (Koa). */
export function exceptionType(report: ViolationReport): string {
  return report.code ?? report.kind;
}

/** The `exception` event's attributes for a report (semconv exception.* and code.*, plus endguard.*). */
export function exceptionAttributes(report: ViolationReport): Attributes {
  const attributes: Attributes = {
    [ATTR_EXCEPTION_TYPE]: exceptionType(report),
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
    const fn = lateFunctionOf(report);
    if (fn !== null) attributes[ATTR_CODE_FUNCTION_NAME] = fn;
  }
  return attributes;
}

/** The attributes of the child span itself, so backends that index only span attributes find it. */
export function spanAttributes(report: ViolationReport): Attributes {
  const attributes: Attributes = { [ATTR_ENDGUARD_KIND]: report.kind, [ATTR_ENDGUARD_CAUSE]: report.cause };
  if (report.endSite !== null) attributes[ATTR_ENDGUARD_END_SITE] = report.endSite;
  if (report.lateSite !== null) attributes[ATTR_ENDGUARD_LATE_SITE] = report.lateSite;
  return attributes;
}

/** Route templates are short; anything longer is not one. */
const MAX_ROUTE_LENGTH = 256;

function read(get: () => unknown): string | undefined {
  try {
    const value = get();
    return typeof value === 'string' && value.length > 0 && value.length <= MAX_ROUTE_LENGTH ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The route template of the request the stream answers, as its framework matched it (never
 * the raw path, which carries ids and the query): Express `res.req.route.path`, Fastify
 * `reply.request.routeOptions.url`, @koa/router `ctx._matchedRoute`. Undefined otherwise.
 */
export function routeOf(target: object): string | undefined {
  const t = target as {
    req?: { route?: { path?: unknown } };
    request?: { routeOptions?: { url?: unknown } };
    _matchedRoute?: unknown;
    ctx?: { _matchedRoute?: unknown };
  };
  return read(() => t.req?.route?.path) ?? read(() => t.request?.routeOptions?.url) ?? read(() => t._matchedRoute ?? t.ctx?._matchedRoute);
}

/** The `endguard.violations` counter's attributes; a violation only counted past the report budget has no cause. */
export function metricAttributes(kind: ViolationKind, report: ViolationReport | null, target: object): Attributes {
  const attributes: Attributes = { [ATTR_ENDGUARD_KIND]: kind, [ATTR_ENDGUARD_TYPE]: report?.type ?? typeNameOf(target) };
  if (report !== null) attributes[ATTR_ENDGUARD_CAUSE] = report.cause;
  const route = routeOf(target);
  if (route !== undefined) attributes[ATTR_HTTP_ROUTE] = route;
  return attributes;
}
