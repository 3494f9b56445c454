// In-process: the OpenTelemetry reporter against a real SDK TracerProvider + InMemorySpanExporter.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FIXTURES, ROOT, markedSite } from '../support/run';
import * as otel from '../../src/report/otel-attributes';
import { parseSite } from '../../src/core/callsite';
import * as semconv from '../../src/semconv';

const require = createRequire(import.meta.url);
const api = require('@opentelemetry/api');
const { TracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
// the package's public entry (`require('endguard')`); the pure attribute mapping from src/
const endguard = require(path.join(ROOT, 'dist', 'index.js'));
const dc = require('node:diagnostics_channel');

const SCENARIOS = path.join(FIXTURES, 'otel', 'scenarios.js');
const scenarios = require(SCENARIOS);
const REGISTRY_KEY = Symbol.for('opentelemetry.js.api.1');

const exporter = new InMemorySpanExporter();
// OTel JS 3.x: SimpleSpanProcessor takes an options object and exports asynchronously
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
async function finished(): Promise<any[]> {
  await provider.forceFlush();
  return exporter.getFinishedSpans();
}
const reports: any[] = [];
const onReport = (m: any) => reports.push(m);

function spanNamed(name: string) {
  const found = exporter.getFinishedSpans().filter((s: any) => s.name === name);
  expect(found, name).toHaveLength(1);
  return found[0];
}

function ids(span: any) {
  const c = span.spanContext();
  return { traceId: c.traceId, spanId: c.spanId };
}

/** Every attribute of the exception event, against the report the agent published. */
function expectEventFor(event: any, report: any, sites: { end: string; late: string; fn: string | null }) {
  expect(event.name).toBe('exception');
  const [, file, line, column] = /^(.*):(\d+):(\d+)$/.exec(sites.late)!;
  const expected: Record<string, unknown> = {
    'exception.type': 'ERR_STREAM_WRITE_AFTER_END',
    'exception.message': 'write after end',
    'exception.stacktrace': report.lateStack,
    'endguard.kind': 'write-after-end',
    'endguard.cause': report.cause,
    'endguard.hint': report.hint,
    'endguard.end.stacktrace': report.endStack,
    'endguard.end.site': sites.end,
    'endguard.late.site': sites.late,
    'code.file.path': file,
    'code.line.number': Number(line),
    'code.column.number': Number(column),
  };
  if (sites.fn !== null) expected['code.function.name'] = sites.fn;
  expect(event.attributes).toEqual(expected);
  expect(report.endSite).toBe(sites.end);
  expect(report.lateSite).toBe(sites.late);
  expect(report.lateStack).toMatch(/^Error \[ERR_STREAM_WRITE_AFTER_END\]: write after end\n/);
  expect(report.lateStack).toContain(sites.late);
  expect(report.endStack).toContain(sites.end);
}

beforeAll(() => {
  expect((globalThis as any)[REGISTRY_KEY]).toBeUndefined();
  dc.subscribe('endguard:violation', onReport);
  endguard.start({ log: 'off', capture: 'always', mode: 'observe' });
});

afterAll(() => {
  dc.unsubscribe('endguard:violation', onReport);
  endguard.stop();
  api.trace.disable();
  api.context.disable();
});

describe('before any OpenTelemetry SDK is registered', () => {
  it('a violation is still reported, with no OpenTelemetry work', () => {
    // a registry without a tracer provider (the API loaded by a library, nothing registered)
    api.diag.setLogger({ verbose() {}, debug() {}, info() {}, warn() {}, error() {} });
    expect((globalThis as any)[REGISTRY_KEY]).toBeDefined();
    reports.length = 0;
    scenarios.lateOutsideSpans();
    expect(reports.map((r) => r.kind)).toEqual(['write-after-end']);
  });
});

describe('an SDK registered after endguard started', () => {
  beforeAll(() => {
    api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    api.trace.setGlobalTracerProvider(provider);
  });

  const tracer = () => api.trace.getTracer('test');

  it('recording span at the late call: the exception event goes on it, no extra span', async () => {
    exporter.reset();
    reports.length = 0;
    const request = scenarios.lateWhileRecording(tracer());
    expect(reports).toHaveLength(1);
    expect((await finished()).map((s: any) => s.name)).toEqual(['request']);
    const span = spanNamed('request');
    expect(span.events).toHaveLength(1);
    expectEventFor(span.events[0], reports[0], {
      end: markedSite(SCENARIOS, 'syncEnd', 's.end'),
      late: markedSite(SCENARIOS, 'syncLate', 'stream.write'),
      fn: 'writeLate',
    });
    expect(ids(span)).toEqual(ids(request));
  });

  it('span ended before the late call: a child span endguard.<kind> under it, status ERROR, carrying the event', async () => {
    exporter.reset();
    reports.length = 0;
    const request = await scenarios.lateAfterSpanEnded(tracer());
    expect(reports).toHaveLength(1);
    expect((await finished()).map((s: any) => s.name)).toEqual(['request', 'endguard.write-after-end']);
    const child = spanNamed('endguard.write-after-end');
    expect(child.parentSpanContext.spanId).toBe(request.spanContext().spanId);
    expect(child.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(child.instrumentationScope.name).toBe('endguard');
    expect(child.kind).toBe(api.SpanKind.INTERNAL);
    expect(child.status).toEqual({ code: api.SpanStatusCode.ERROR, message: 'ERR_STREAM_WRITE_AFTER_END: write after end' });
    expect(child.ended).toBe(true);
    expect(child.links).toEqual([]);
    expect(child.attributes).toEqual({
      'endguard.kind': 'write-after-end',
      'endguard.cause': reports[0].cause,
      'endguard.end.site': markedSite(SCENARIOS, 'asyncEnd', 's.end'),
      'endguard.late.site': markedSite(SCENARIOS, 'asyncLate', 's.write'),
    });
    expect(child.events).toHaveLength(1);
    expectEventFor(child.events[0], reports[0], {
      end: markedSite(SCENARIOS, 'asyncEnd', 's.end'),
      late: markedSite(SCENARIOS, 'asyncLate', 's.write'),
      // an anonymous timer callback: V8's label (Timeout._onTimeout) is no function name
      fn: null,
    });
    expect(spanNamed('request').events).toEqual([]);
  });

  it('late call inside another trace: event on that recording span, and the child span under the end-time span, linked', async () => {
    exporter.reset();
    reports.length = 0;
    const { a, b } = scenarios.lateFromOtherRequest(tracer());
    expect((await finished()).map((s: any) => s.name)).toEqual(['subscriber', 'endguard.write-after-end', 'publisher']);
    expect(a.spanContext().traceId).not.toBe(b.spanContext().traceId);
    const sites = { end: markedSite(SCENARIOS, 'otherEnd', 's.end'), late: markedSite(SCENARIOS, 'otherLate', 's.write'), fn: null };
    const publisher = spanNamed('publisher');
    expect(publisher.events).toHaveLength(1);
    expectEventFor(publisher.events[0], reports[0], sites);
    const child = spanNamed('endguard.write-after-end');
    expect(child.spanContext().traceId).toBe(a.spanContext().traceId);
    expect(child.parentSpanContext.spanId).toBe(a.spanContext().spanId);
    expect(child.links.map((l: any) => ids({ spanContext: () => l.context }))).toEqual([ids(b)]);
    expectEventFor(child.events[0], reports[0], sites);
  });

  it('no span at end or late time: a root endguard span, so the violation is still in the backend', async () => {
    exporter.reset();
    reports.length = 0;
    scenarios.lateOutsideSpans();
    await finished();
    const child = spanNamed('endguard.write-after-end');
    expect(child.parentSpanContext).toBeUndefined();
    expectEventFor(child.events[0], reports[0], {
      end: markedSite(SCENARIOS, 'bareEnd', 's.end'),
      late: markedSite(SCENARIOS, 'bareLate', 's.write'),
      fn: 'exports.lateOutsideSpans',
    });
  });
});

describe('exceptionAttributes (pure)', () => {
  const base = {
    endguard: 1,
    kind: 'write-after-destroy',
    type: 'ServerResponse',
    code: 'ERR_STREAM_DESTROYED',
    method: 'write',
    endMethod: null,
    endStack: null,
    endSite: null,
    lateStack: 'Error [ERR_STREAM_DESTROYED]: Cannot call write after a stream was destroyed\n    at async onMessage (file:///srv/app/sse.mjs:40:11)\n    at x (node:internal/x:1:1)',
    lateSite: '/srv/app/sse.mjs:40:11',
    cause: 'client-disconnect',
    hint: 'stop on close',
    count: 1,
    mode: 'observe',
    capture: 'armed',
  };

  it('leaves out what the report does not know (armed first occurrence, client disconnect), reads ESM file URLs', () => {
    expect(otel.exceptionAttributes(base)).toEqual({
      [semconv.ATTR_EXCEPTION_TYPE]: 'ERR_STREAM_DESTROYED',
      [semconv.ATTR_EXCEPTION_MESSAGE]: 'Cannot call write after a stream was destroyed',
      [semconv.ATTR_EXCEPTION_STACKTRACE]: base.lateStack,
      [semconv.ATTR_ENDGUARD_KIND]: 'write-after-destroy',
      [semconv.ATTR_ENDGUARD_CAUSE]: 'client-disconnect',
      [semconv.ATTR_ENDGUARD_HINT]: 'stop on close',
      [semconv.ATTR_ENDGUARD_LATE_SITE]: '/srv/app/sse.mjs:40:11',
      [semconv.ATTR_CODE_FILE_PATH]: '/srv/app/sse.mjs',
      [semconv.ATTR_CODE_LINE_NUMBER]: 40,
      [semconv.ATTR_CODE_COLUMN_NUMBER]: 11,
    });
  });

  it('no late site: no code.* attributes; a stack reformatted by the app: a message built from the report', () => {
    const attrs = otel.exceptionAttributes({ ...base, lateSite: null, lateStack: 'custom formatted stack' });
    expect(attrs[semconv.ATTR_EXCEPTION_MESSAGE]).toBe('write after destroy (ServerResponse.write)');
    expect(Object.keys(attrs).filter((k) => k.startsWith('code.'))).toEqual([]);
    expect(attrs[semconv.ATTR_ENDGUARD_LATE_SITE]).toBeUndefined();
  });

  it('parses sites whose path contains colons', () => {
    expect(parseSite('C:\\app\\a.js:3:4')).toEqual({ file: 'C:\\app\\a.js', line: 3, column: 4 });
    expect(parseSite('nonsense')).toBeNull();
  });
});

describe('a throwing tracer never reaches the host', () => {
  it('fences the failure, turns the reporter off and warns once', async () => {
    let calls = 0;
    api.trace.disable();
    api.trace.setGlobalTracerProvider({
      getTracer() {
        calls++;
        return {
          startSpan() {
            throw new Error('exporter exploded');
          },
        };
      },
    });
    const writes: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: any) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      reports.length = 0;
      expect(() => scenarios.lateOutsideSpans()).not.toThrow();
      expect(reports).toHaveLength(1);
      expect(calls).toBe(1);
      expect(() => scenarios.lateOutsideSpans()).not.toThrow();
      await scenarios.lateAfterSpanEnded({ startActiveSpan: (_n: string, fn: any) => fn({ end() {} }) });
      expect(calls).toBe(1);
      expect(reports).toHaveLength(3); // the agent itself goes on reporting
    } finally {
      spy.mockRestore();
    }
    const warnings = writes.filter((w) => w.includes('OpenTelemetry'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('exporter exploded');
  });
});
