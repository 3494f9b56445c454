import type { ReportFact } from '../internal-types';
import { channels } from '../channels';
import { warnInternal } from '../stderr';
import { packageVersion } from '../version';
import { METER_NAME, METRIC_VIOLATIONS, METRIC_VIOLATIONS_UNIT } from '../semconv';
import { lazy } from '../lazy-load';
import type { Attributes } from './otel-attributes';
import { REGISTRY_KEY } from './otel-registry';

// The `endguard.violations` counter, on the MeterProvider the app registered with any copy of
// @opentelemetry/api 1.x (read from the API's global registry, as otel.ts does for traces).
// Without a registered provider a violation costs one registry lookup and nothing is loaded.

interface OtelCounter {
  add(value: number, attributes?: Attributes): void;
}
interface OtelMeter {
  createCounter(name: string, options?: { description?: string; unit?: string }): OtelCounter;
}
interface OtelRegistry {
  metrics?: { getMeter(name: string, version?: string): OtelMeter };
}

const holder = globalThis as unknown as Record<symbol, OtelRegistry | undefined>;

let started = false;
let counter: OtelCounter | null = null;
/** The provider the counter was made from: a provider registered later gets its own counter. */
let counterSource: unknown = null;

function counterOf(metrics: NonNullable<OtelRegistry['metrics']>): OtelCounter {
  if (counter === null || counterSource !== metrics) {
    counter = metrics.getMeter(METER_NAME, packageVersion()).createCounter(METRIC_VIOLATIONS, {
      description: 'Late writes: calls on a stream or HTTP response after it was ended or destroyed, or after its headers were sent',
      unit: METRIC_VIOLATIONS_UNIT,
    });
    counterSource = metrics;
  }
  return counter;
}

function onReport(message: unknown): void {
  const metrics = holder[REGISTRY_KEY]?.metrics;
  if (metrics === undefined) return;
  try {
    const { report, kind, target } = message as ReportFact;
    counterOf(metrics).add(1, lazy().metricAttributes(kind, report, target));
  } catch (error) {
    stopOtelMetrics();
    warnInternal('the OpenTelemetry metrics reporter', error);
  }
}

/** Subscribes the metrics reporter: it counts only once a MeterProvider is registered (before or after start). */
export function startOtelMetrics(): void {
  if (started) return;
  started = true;
  channels.report.subscribe(onReport);
}

export function stopOtelMetrics(): void {
  if (!started) return;
  started = false;
  channels.report.unsubscribe(onReport);
  counter = null;
  counterSource = null;
}
