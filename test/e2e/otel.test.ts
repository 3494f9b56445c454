// End to end: real child processes export OTLP/HTTP to a receiver started by the test.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { FIXTURES, NODE, REGISTER_CJS, REGISTER_MJS, ROOT, markedSite, runNode, type RunResult } from '../support/run';
import { startReceiver, type ReceivedEvent, type ReceivedSpan, type Receiver } from '../fixtures/otel/receiver';

// @opentelemetry/sdk-node 0.301 needs Node >= 22.15: on older Nodes (the version matrix) the
// entry only warns and runs the agent, which the system-Node test below covers.
const [major = 0, minor = 0] = execFileSync(NODE, ['-p', 'process.versions.node']).toString().trim().split('.').map(Number);
const SDK_SUPPORTED = major > 22 || (major === 22 && minor >= 15);
const sdkIt = it.runIf(SDK_SUPPORTED);

const OTEL_ENTRY = path.join(ROOT, 'dist', 'otel-entry.js');
const APP = path.join(FIXTURES, 'otel', 'app.js');
const EXPRESS_APP = path.join(FIXTURES, 'otel', 'express-app.js');
const PROXY_APP = path.join(FIXTURES, 'otel', 'proxy-app.js');
const PUBSUB_APP = path.join(FIXTURES, 'otel', 'pubsub-app.js');
const ESM_APP = path.join(FIXTURES, 'otel', 'app.mjs');
const USER_SDK = path.join(FIXTURES, 'otel', 'instrumentation.mjs');

const SERVER = 2; // OTLP SpanKind
const STATUS_ERROR = 2;

type Protocol = 'http/json' | 'http/protobuf';

let receiver: Receiver;
beforeEach(async () => {
  receiver = await startReceiver();
});
afterEach(async () => {
  await receiver.close();
});

function otelEnv(protocol: Protocol): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
    OTEL_SERVICE_NAME: 'endguard-e2e',
    // nothing is exported before shutdown: every span seen was flushed at exit
    OTEL_BSP_SCHEDULE_DELAY: '600000',
  };
}

/** By its public name (package.json exports "./otel", resolved by self-reference from the repo root). */
function entryArgs(preload: 'import' | 'require'): string[] {
  return preload === 'import' ? ['--import', 'endguard/otel'] : ['--require', 'endguard/otel'];
}

function serverSpan(spans: ReceivedSpan[], urlPath: string): ReceivedSpan {
  const found = spans.filter((s) => s.kind === SERVER && s.attributes['url.path'] === urlPath);
  expect(found, `one server span for ${urlPath}`).toHaveLength(1);
  return found[0]!;
}

function endguardEvent(span: ReceivedSpan): ReceivedEvent {
  const found = span.events.filter((e) => e.name === 'exception' && e.attributes['endguard.kind'] !== undefined);
  expect(found, `one endguard exception event on ${span.name}`).toHaveLength(1);
  return found[0]!;
}

function childOf(spans: ReceivedSpan[], parent: ReceivedSpan, name: string): ReceivedSpan {
  const found = spans.filter((s) => s.name === name && s.parentSpanId === parent.spanId);
  expect(found, `one ${name} under ${parent.spanId}`).toHaveLength(1);
  const child = found[0]!;
  expect(child.traceId).toBe(parent.traceId);
  expect(child.scope).toBe('endguard');
  expect(child.kind).toBe(1); // INTERNAL
  expect(child.status.code).toBe(STATUS_ERROR);
  return child;
}

interface Expected {
  kind: string;
  code: string;
  message: string;
  cause: string;
  endSite: string | null;
  lateSite: string;
  /** code.function.name; null: absent (an anonymous function) */
  fn?: string | null;
}

function expectEvent(event: ReceivedEvent, want: Expected): void {
  const a = event.attributes;
  expect(a['exception.type']).toBe(want.code);
  expect(a['exception.message']).toBe(want.message);
  expect(a['exception.stacktrace']).toMatch(new RegExp(`^Error \\[${want.code}\\]: `));
  expect(a['exception.stacktrace']).toContain(want.lateSite);
  expect(a['endguard.kind']).toBe(want.kind);
  expect(a['endguard.cause']).toBe(want.cause);
  expect(typeof a['endguard.hint']).toBe('string');
  expect((a['endguard.hint'] as string).length).toBeGreaterThan(10);
  expect(a['endguard.late.site']).toBe(want.lateSite);
  if (want.endSite === null) {
    expect(a['endguard.end.site']).toBeUndefined();
    expect(a['endguard.end.stacktrace']).toBeUndefined();
  } else {
    expect(a['endguard.end.site']).toBe(want.endSite);
    expect(a['endguard.end.stacktrace']).toContain(want.endSite);
  }
  const [, file, line, column] = /^(.*):(\d+):(\d+)$/.exec(want.lateSite)!;
  expect(a['code.file.path']).toBe(file);
  expect(a['code.line.number']).toBe(Number(line));
  expect(a['code.column.number']).toBe(Number(column));
  if (want.fn === null) expect(a).not.toHaveProperty(['code.function.name']);
  else if (want.fn !== undefined) expect(a['code.function.name']).toBe(want.fn);
}

/** The secrets in the fixtures' payloads never reach the collector; endguard adds no query string either. */
function expectNoLeak(spans: ReceivedSpan[]): void {
  for (const e of receiver.exports) expect(e.body.includes('SECRET_PAYLOAD')).toBe(false);
  const ours = spans.filter((s) => s.scope === 'endguard' || s.events.some((e) => e.attributes['endguard.kind'] !== undefined));
  expect(ours.length).toBeGreaterThan(0);
  for (const s of ours) {
    const text = JSON.stringify([s.scope === 'endguard' ? s.attributes : {}, s.events.filter((e) => e.attributes['endguard.kind'] !== undefined)]);
    expect(text).not.toContain('SECRET_QUERY');
    expect(text).not.toContain('token=');
  }
}

/** app.js: /late → child span under the ended server span; /sync → event on the recording server span. */
function expectAppTraces(spans: ReceivedSpan[]): void {
  const lateServer = serverSpan(spans, '/late');
  const lateSpan = childOf(spans, lateServer, 'endguard.write-after-end');
  expect(lateSpan.attributes['endguard.kind']).toBe('write-after-end');
  expect(lateSpan.attributes['endguard.cause']).toBe('late-callback');
  expectEvent(endguardEvent(lateSpan), {
    kind: 'write-after-end',
    code: 'ERR_STREAM_WRITE_AFTER_END',
    message: 'write after end',
    cause: 'late-callback',
    endSite: markedSite(APP, 'endA', 'res.end'),
    lateSite: markedSite(APP, 'lateA', 'res.end'),
    // its own name, not V8's label (Timeout.sendRows [as _onTimeout])
    fn: 'sendRows',
  });
  expect(lateServer.events.filter((e) => e.attributes['endguard.kind'] !== undefined)).toHaveLength(0);

  const syncServer = serverSpan(spans, '/sync');
  expect(syncServer.traceId).not.toBe(lateServer.traceId);
  expectEvent(endguardEvent(syncServer), {
    kind: 'write-after-end',
    code: 'ERR_STREAM_WRITE_AFTER_END',
    message: 'write after end',
    cause: 'missing-return',
    endSite: markedSite(APP, 'endB', 'res.end'),
    lateSite: markedSite(APP, 'lateB', 'res.end'),
    // the handler is an anonymous arrow: V8's frame label (Server.<anonymous>) is no function name
    fn: null,
  });
  expect(spans.filter((s) => s.scope === 'endguard' && s.traceId === syncServer.traceId)).toHaveLength(0);
  expect(new Set(spans.map((s) => s.service))).toEqual(new Set(['endguard-e2e']));
  expectNoLeak(spans);
}

/** pubsub-app.js: the late write runs in the publisher's request; the subscriber's trace gets the span. */
function expectPubsubTraces(run: RunResult, spans: ReceivedSpan[]): void {
  expect(run.code).toBe(0);
  expect(run.out[0]).toEqual({ events: { status: 200, body: '' }, publish: { status: 200, body: 'published' } });
  const events = serverSpan(spans, '/events');
  const publish = serverSpan(spans, '/publish');
  expect(publish.traceId).not.toBe(events.traceId);
  const want = {
    kind: 'write-after-end',
    code: 'ERR_STREAM_WRITE_AFTER_END',
    message: 'write after end',
    cause: run.reports[0]!.cause as string,
    endSite: markedSite(PUBSUB_APP, 'end', 'res.end'),
    lateSite: markedSite(PUBSUB_APP, 'late', 'res.write'),
  };
  // the broken request (its span ended): a child span, found only through the end-time context
  const late = childOf(spans, events, 'endguard.write-after-end');
  expectEvent(endguardEvent(late), want);
  expect(late.links).toEqual([{ traceId: publish.traceId, spanId: publish.spanId }]);
  // the request whose code wrote late (recording): the event
  expectEvent(endguardEvent(publish), want);
  expectNoLeak(spans);
}

function expectAppRan(run: RunResult): void {
  expect(run.stderr).not.toContain('endguard: internal error');
  expect(run.stderr).not.toContain('endguard/otel:');
  expect(run.out[0]).toEqual({
    late: { status: 504, body: 'SECRET_PAYLOAD timeout' },
    sync: { status: 200, body: 'SECRET_PAYLOAD first' },
  });
  expect(run.reports.map((r) => r.cause)).toEqual(['late-callback', 'missing-return']);
}

describe('node --import|--require endguard/otel', () => {
  for (const protocol of ['http/json', 'http/protobuf'] as const) {
    for (const preload of ['import', 'require'] as const) {
      sdkIt(`exports the late write into the request's trace (${protocol}, --${preload})`, async () => {
        const run = await runNode([...entryArgs(preload), APP], { env: otelEnv(protocol) });
        expect(run.code).toBe(0);
        expectAppRan(run);
        // flushed before exit: the receiver already has everything when the process is gone
        const spans = receiver.spans();
        expect(receiver.exports.filter((e) => e.path === '/v1/traces').every((e) => e.contentType.includes(protocol === 'http/json' ? 'json' : 'protobuf'))).toBe(true);
        expect(receiver.exports.filter((e) => e.path !== '/v1/traces')).toHaveLength(0); // no metrics/logs unless asked
        expectAppTraces(spans);
      });
    }
  }

  sdkIt('an ES module app that only imports node:http is traced too', async () => {
    const run = await runNode(['--import', OTEL_ENTRY, ESM_APP], { env: otelEnv('http/protobuf') });
    expect(run.code).toBe(0);
    expect(run.out[0]).toEqual({ late: { status: 200, body: 'SECRET_PAYLOAD timeout' } });
    const spans = receiver.spans();
    const server = serverSpan(spans, '/late');
    expectEvent(endguardEvent(childOf(spans, server, 'endguard.write-after-end')), {
      kind: 'write-after-end',
      code: 'ERR_STREAM_WRITE_AFTER_END',
      message: 'write after end',
      cause: run.reports[0]!.cause as string,
      endSite: markedSite(ESM_APP, 'end', 'res.end'),
      lateSite: markedSite(ESM_APP, 'late', 'res.end'),
    });
    expectNoLeak(spans);
  });

  const signalCases: [string, NodeJS.Signals, string[], { code: number | null; died: string | null }][] = [
    ['flushes on SIGTERM, then dies by the signal', 'SIGTERM', [], { code: null, died: 'SIGTERM' }],
    ['flushes on SIGINT, then dies by the signal', 'SIGINT', [], { code: null, died: 'SIGINT' }],
    ["leaves SIGTERM to the app's own handler (graceful close), flushes when the loop drains", 'SIGTERM', ['--graceful'], { code: 0, died: null }],
  ];
  for (const [title, signal, flags, expected] of signalCases) {
    sdkIt(title, async () => {
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('OTEL_') && !k.startsWith('ENDGUARD_') && k !== 'NODE_OPTIONS') env[k] = v;
      Object.assign(env, otelEnv('http/json'), { ENDGUARD_LOG: 'json' });
      const child = spawn(NODE, [...entryArgs('import'), APP, '--stay', ...flags], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (c) => (stderr += c));
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('close', (code, sig) => resolve({ code, signal: sig })));
      await new Promise<void>((resolve) =>
        child.stdout.on('data', (c) => {
          stdout += c;
          if (stdout.includes('"ready":true')) resolve();
        }),
      );
      expect(receiver.spans()).toHaveLength(0); // nothing exported yet (long batch delay)
      child.kill(signal);
      const { code, signal: died } = await exited;
      clearTimeout(timer);
      expect(stderr).not.toContain('internal error');
      expect({ code, died }).toEqual(expected);
      expectAppTraces(receiver.spans());
    });
  }

  sdkIt('Express 5: causes 3 and 4 become exception events on the server spans', async () => {
    const run = await runNode(['--import', OTEL_ENTRY, EXPRESS_APP], { env: otelEnv('http/protobuf') });
    expect(run.code).toBe(0);
    expect(run.out[0]).toEqual({
      double: { status: 200, body: 'SECRET_PAYLOAD hello' },
      next: { status: 401, body: 'SECRET_PAYLOAD unauthorized' },
    });
    const spans = receiver.spans();
    const double = serverSpan(spans, '/double');
    expectEvent(endguardEvent(double), {
      kind: 'headers-after-sent',
      code: 'ERR_HTTP_HEADERS_SENT',
      message: 'Cannot set headers after they are sent to the client',
      cause: 'double-send',
      endSite: markedSite(EXPRESS_APP, 'end3', 'res.send'),
      lateSite: markedSite(EXPRESS_APP, 'late3', 'res.send'),
    });
    const next = serverSpan(spans, '/private');
    expectEvent(endguardEvent(next), {
      kind: 'headers-after-sent',
      code: 'ERR_HTTP_HEADERS_SENT',
      message: 'Cannot set headers after they are sent to the client',
      cause: 'next-after-send',
      endSite: markedSite(EXPRESS_APP, 'end4', 'send'),
      lateSite: markedSite(EXPRESS_APP, 'late4', 'res.send'),
    });
    expect(spans.filter((s) => s.scope === 'endguard')).toHaveLength(0);
    expectNoLeak(spans);
  });

  sdkIt('http-proxy-middleware: cause 6 (client gone, interceptor writes late) becomes a span in the proxy request trace', async () => {
    const run = await runNode(['--import', OTEL_ENTRY, PROXY_APP], { env: otelEnv('http/json') });
    expect(run.code).toBe(0);
    expect(run.out[0]).toEqual({ client: { error: 'ECONNRESET' } });
    const spans = receiver.spans();
    const proxied = serverSpan(spans, '/api/items');
    const late = childOf(spans, proxied, 'endguard.write-after-destroy');
    const lateSite = run.reports[0]!.lateSite as string;
    expect(lateSite).toMatch(/http-proxy-middleware\/dist\/handlers\/response-interceptor\.js:\d+:\d+$/);
    expectEvent(endguardEvent(late), {
      kind: 'write-after-destroy',
      code: 'ERR_STREAM_DESTROYED',
      message: 'Cannot call write after a stream was destroyed',
      cause: 'client-disconnect',
      endSite: null,
      lateSite,
    });
    // the upstream request is in the same trace
    expect(spans.filter((s) => s.traceId === proxied.traceId && s.attributes['url.path'] === '/items')).toHaveLength(1);
    expectNoLeak(spans);
  });

  for (const protocol of ['http/json', 'http/protobuf'] as const) {
    sdkIt(`pub-sub: the late write runs in another request; the broken request's trace still gets it (${protocol})`, async () => {
      const run = await runNode(['--import', OTEL_ENTRY, PUBSUB_APP], { env: otelEnv(protocol) });
      expectPubsubTraces(run, receiver.spans());
    });
  }

  sdkIt('does not start a second SDK when the app already registered one', async () => {
    const run = await runNode(['--import', USER_SDK, '--import', OTEL_ENTRY, APP], { env: otelEnv('http/json') });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('endguard/otel: an OpenTelemetry SDK is already registered');
    expectAppTraces(receiver.spans());
  });

  sdkIt('without @opentelemetry/sdk-node: says what to install, and the agent still runs', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'endguard-nosdk-'));
    try {
      const pkg = path.join(dir, 'node_modules', 'endguard');
      mkdirSync(pkg, { recursive: true });
      cpSync(path.join(ROOT, 'dist'), path.join(pkg, 'dist'), { recursive: true });
      cpSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
      for (const dep of ['shimmer', 'require-in-the-middle', 'module-details-from-path', 'debug', 'ms', 'resolve']) {
        const from = path.join(ROOT, 'node_modules', dep);
        if (existsSync(from)) symlinkSync(from, path.join(dir, 'node_modules', dep));
      }
      const app = path.join(dir, 'app.js');
      writeFileSync(app, `const { PassThrough } = require('node:stream');\nconst s = new PassThrough();\ns.on('error', () => {});\ns.end('a');\ns.write('b');\n`);
      const run = await runNode(['--import', path.join(pkg, 'dist', 'otel-entry.js'), app], { cwd: dir, env: otelEnv('http/json') });
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('endguard/otel needs @opentelemetry/sdk-node and @opentelemetry/instrumentation-http');
      expect(run.stderr).toContain('npm install @opentelemetry/sdk-node @opentelemetry/instrumentation-http');
      expect(run.reports.map((r) => r.kind)).toEqual(['write-after-end']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.runIf(existsSync('/usr/bin/node'))('on a Node older than the SDK supports (system Node 20): warns, the agent still runs', async () => {
    const node = '/usr/bin/node';
    const probe = await new Promise<string>((resolve) => {
      const c = spawn(node, ['-p', 'process.versions.node']);
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.on('close', () => resolve(out.trim()));
    });
    if (Number(probe.split('.')[0]) >= 22) return; // nothing to show on this machine
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('OTEL_') && !k.startsWith('ENDGUARD_') && k !== 'NODE_OPTIONS') env[k] = v;
    Object.assign(env, otelEnv('http/json'), { ENDGUARD_LOG: 'json' });
    const result = await new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
      const c = spawn(node, ['--import', OTEL_ENTRY, APP], { cwd: ROOT, env });
      let stderr = '';
      let stdout = '';
      c.stderr.on('data', (d) => (stderr += d));
      c.stdout.on('data', (d) => (stdout += d));
      c.on('close', (code) => resolve({ code, stderr, stdout }));
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`endguard/otel: @opentelemetry/sdk-node needs Node >=22.15.0 (this is ${probe}); endguard runs without OpenTelemetry`);
    expect(result.stderr).toContain('"cause":"late-callback"');
    expect(receiver.exports).toHaveLength(0);
  });
});

describe.runIf(SDK_SUPPORTED)('the app has its own OpenTelemetry SDK; endguard/register is added', () => {
  const orders: [string, string[]][] = [
    ['SDK first', ['--import', USER_SDK, '--import', REGISTER_MJS]],
    ['endguard first', ['--import', REGISTER_MJS, '--import', USER_SDK]],
    ['endguard by --require, SDK by --import', ['--require', REGISTER_CJS, '--import', USER_SDK]],
  ];
  for (const [label, preload] of orders) {
    it(`finds the app's provider (${label})`, async () => {
      const run = await runNode([...preload, APP], { env: otelEnv('http/json') });
      expect(run.code).toBe(0);
      expectAppRan(run);
      expectAppTraces(receiver.spans());
    });

    it(`keeps the end-time context for a late write from another request (${label})`, async () => {
      const run = await runNode([...preload, PUBSUB_APP], { env: otelEnv('http/protobuf') });
      expectPubsubTraces(run, receiver.spans());
    });
  }

  it('without any OpenTelemetry nothing is exported and the reports are unchanged', async () => {
    const run = await runNode(['--import', REGISTER_MJS, APP], { env: otelEnv('http/json') });
    expect(run.code).toBe(0);
    expectAppRan(run);
    expect(receiver.exports).toHaveLength(0);
  });
});
