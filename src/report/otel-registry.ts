// The OpenTelemetry API's process-wide registry, shared by every copy of @opentelemetry/api
// 1.x: the API keeps its registered tracer, meter and context providers on this global key
// (see otel.ts for why endguard reads it instead of requiring the API).

/** `Symbol.for('opentelemetry.js.api.' + major)`, API 1.x. */
export const REGISTRY_KEY = Symbol.for('opentelemetry.js.api.1');
