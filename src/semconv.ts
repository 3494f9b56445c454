// Attribute names endguard puts on OpenTelemetry spans and events. The only place they are
// spelled out: everything else imports them from here.

/** The span event name of the semantic conventions for errors. */
export const EVENT_EXCEPTION = 'exception';

// semconv "exception" (stable)
export const ATTR_EXCEPTION_TYPE = 'exception.type';
export const ATTR_EXCEPTION_MESSAGE = 'exception.message';
export const ATTR_EXCEPTION_STACKTRACE = 'exception.stacktrace';

// semconv "code" (current names; the older code.filepath / code.lineno / code.function are deprecated)
export const ATTR_CODE_FILE_PATH = 'code.file.path';
export const ATTR_CODE_LINE_NUMBER = 'code.line.number';
export const ATTR_CODE_COLUMN_NUMBER = 'code.column.number';
export const ATTR_CODE_FUNCTION_NAME = 'code.function.name';

// endguard's own namespace
export const ATTR_ENDGUARD_KIND = 'endguard.kind';
export const ATTR_ENDGUARD_CAUSE = 'endguard.cause';
export const ATTR_ENDGUARD_HINT = 'endguard.hint';
export const ATTR_ENDGUARD_END_STACKTRACE = 'endguard.end.stacktrace';
export const ATTR_ENDGUARD_END_SITE = 'endguard.end.site';
export const ATTR_ENDGUARD_LATE_SITE = 'endguard.late.site';

/** Name of the child span started when the span active at the late call is no longer recording. */
export const SPAN_NAME_PREFIX = 'endguard.';
/** Instrumentation scope of endguard's spans. */
export const TRACER_NAME = 'endguard';

// Metrics
/** Counter of violations, one per report (and per violation only counted past the report budget). */
export const METRIC_VIOLATIONS = 'endguard.violations';
/** UCUM annotation for a count of violations (semconv's `{thing}` convention). */
export const METRIC_VIOLATIONS_UNIT = '{violation}';
/** Instrumentation scope of endguard's meter. */
export const METER_NAME = 'endguard';
/** The report's `type`: whose object was written late (ServerResponse, PassThrough, ...). */
export const ATTR_ENDGUARD_TYPE = 'endguard.type';
/** semconv `http.route` (stable): the framework's route template, never the raw path. */
export const ATTR_HTTP_ROUTE = 'http.route';
