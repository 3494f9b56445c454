// Web streams (issue 10): every scenario as a real child process, in observe, enforce and strict,
// with --require and --import; observe is compared with a run without the agent.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FIXTURES, NODE, ROOT, markedSite, runFixture, runNode, type Preload, type RunResult } from '../support/run';
import { startReceiver, type ReceivedSpan, type Receiver } from '../fixtures/otel/receiver';

type Mode = 'observe' | 'enforce' | 'strict';

interface Case {
  fixture: string;
  args?: string[];
  kind: string;
  type: string;
  method: string;
  endMethod: string;
  cause: string;
  code?: string;
  /** [marker, call] of the expected end site; null: client disconnect (no end site). */
  end: [string, string] | null;
  /** The file of the end marker, when not the fixture (a library's frame). */
  endFile?: string;
  late: [string, string];
  hint?: RegExp;
  /** What the program observes in enforce (stdout JSON lines) and its exit code. */
  enforce: { out: unknown[]; code?: number };
  /** strict: what the program observes; `stderr` when the strict error ends the process. */
  strict: { out?: unknown[]; code?: number; stderr?: RegExp };
}

const CLOSED = 'Invalid state: Controller is already closed';

const cases: Case[] = [
  {
    fixture: 'webstreams/token-stream.js',
    args: ['deadline'],
    kind: 'write-after-end',
    type: 'ReadableStreamDefaultController',
    method: 'enqueue',
    endMethod: 'close',
    cause: 'late-callback',
    end: ['end', 'controller.close'],
    late: ['late', 'controller.enqueue'],
    hint: /^a callback enqueued after controller\.close\(\.\.\.\): set a flag where you close and check it \(if \(closed\) return\) before controller\.enqueue\(\.\.\.\)/,
    enforce: { out: [{ client: { status: 200, body: 'Hello' } }, { late: 'accepted' }] },
    strict: { out: [{ client: { status: 200, body: 'Hello' } }, { late: 'ERR_ENDGUARD_WRITE_AFTER_END' }] },
  },
  {
    fixture: 'webstreams/token-stream.mjs',
    kind: 'write-after-end',
    type: 'ReadableStreamDefaultController',
    method: 'enqueue',
    endMethod: 'close',
    cause: 'late-callback',
    end: ['end', 'controller.close'],
    late: ['late', 'controller.enqueue'],
    enforce: { out: [{ client: { status: 200, body: 'Hello' } }, { late: 'accepted' }] },
    strict: { out: [{ client: { status: 200, body: 'Hello' } }, { late: 'ERR_ENDGUARD_WRITE_AFTER_END' }] },
  },
  {
    fixture: 'webstreams/token-stream.js',
    args: ['disconnect'],
    kind: 'write-after-destroy',
    type: 'ReadableStreamDefaultController',
    method: 'enqueue',
    endMethod: 'cancel',
    cause: 'client-disconnect',
    end: null,
    late: ['late', 'controller.enqueue'],
    hint: /^the HTTP client disconnected and the server cancelled the body stream before controller\.enqueue\(\.\.\.\): listen for the consumer's cancel\(reason\)/,
    enforce: { out: [{ client: { status: 200, first: 'Hello' } }, { late: 'accepted' }] },
    strict: { out: [{ client: { status: 200, first: 'Hello' } }, { late: 'ERR_ENDGUARD_WRITE_AFTER_DESTROY' }] },
  },
  ...['webstreams/sse-hono.js', 'webstreams/sse-hono.mjs'].map(
    (fixture): Case => ({
      fixture,
      kind: 'write-after-destroy',
      type: 'ReadableStreamDefaultController',
      method: 'enqueue',
      endMethod: 'cancel',
      cause: 'client-disconnect',
      end: null,
      late: ['late', 'controller.enqueue'],
      // the server keeps serving: the next request is answered
      enforce: { out: [{ client: { status: 200, first: ': connected\n\n' } }, { health: { status: 200, body: 'ok' } }], code: 0 },
      strict: { code: 1, stderr: /Error: endguard: enqueue\(\) after the stream was destroyed \(write-after-destroy; destroyed at an unknown site: no code ended this stream: the client closed the connection\)/ },
    }),
  ),
  // the server cancels the encoder's readable side; the pipe then cancels the source (two-hops:
  // through a framing TransformStream first, the disconnect carried back along both pipes)
  ...['text-encoder', 'two-hops'].map(
    (scenario): Case => ({
      fixture: 'webstreams/hono-sse.js',
      args: [scenario],
      kind: 'write-after-destroy',
      type: 'ReadableStreamDefaultController',
      method: 'enqueue',
      endMethod: 'cancel',
      cause: 'client-disconnect',
      end: null,
      late: ['late', 'controller.enqueue'],
      enforce: { out: [{ client: { status: 200 } }, { health: { status: 200, body: 'ok' } }], code: 0 },
      strict: { code: 1, stderr: /Error: endguard: enqueue\(\) after the stream was destroyed \(write-after-destroy; destroyed at an unknown site: no code ended this stream: the client closed the connection\)/ },
    }),
  ),
  {
    // Hono catches the rejection of its writer: the handler goes on in every mode
    fixture: 'webstreams/hono-sse.js',
    args: ['stream-sse'],
    kind: 'write-after-destroy',
    type: 'WritableStreamDefaultWriter',
    method: 'write',
    endMethod: 'cancel',
    cause: 'client-disconnect',
    end: null,
    late: ['late-sse', 'await'],
    hint: /^the HTTP client disconnected and the response closed before stream\.writeSSE\(\.\.\.\)/,
    enforce: { out: [{ client: { status: 200 } }, { handler: 'done', aborted: false }, { health: { status: 200, body: 'ok' } }], code: 0 },
    strict: { out: [{ client: { status: 200 } }, { handler: 'done', aborted: false }, { health: { status: 200, body: 'ok' } }], code: 0 },
  },
  {
    fixture: 'webstreams/chain-cancel.js',
    kind: 'write-after-destroy',
    type: 'ReadableStreamDefaultController',
    method: 'enqueue',
    endMethod: 'cancel',
    cause: 'destroyed',
    end: ['end', 'reader.cancel'],
    late: ['late', 'controller.enqueue'],
    enforce: { out: [{ late: 'accepted' }] },
    strict: { out: [{ late: 'ERR_ENDGUARD_WRITE_AFTER_DESTROY' }] },
  },
  {
    fixture: 'webstreams/transform-terminate.js',
    args: ['late'],
    kind: 'write-after-end',
    type: 'TransformStreamDefaultController',
    method: 'enqueue',
    endMethod: 'terminate',
    cause: 'late-callback',
    end: ['end', 'controller.terminate'],
    late: ['late', 'controller.enqueue'],
    enforce: { out: [{ received: [], late: 'accepted' }] },
    strict: { out: [{ message: 'STRICT' }, { received: [], late: 'ERR_ENDGUARD_WRITE_AFTER_END' }] },
  },
  {
    fixture: 'webstreams/transform-terminate.js',
    args: ['twice'],
    kind: 'double-end',
    type: 'TransformStreamDefaultController',
    method: 'terminate',
    endMethod: 'terminate',
    cause: 'double-end',
    end: ['end', 'controller.terminate'],
    late: ['late-twice', 'controller.terminate'],
    hint: /^terminate\(\) is called twice/,
    // Node ignores a second terminate(): nothing to drop
    enforce: { out: [{ received: [], late: 'accepted' }] },
    strict: { out: [{ message: 'STRICT' }, { received: [], late: 'ERR_ENDGUARD_DOUBLE_END' }] },
  },
  {
    fixture: 'webstreams/writer-late-row.js',
    kind: 'write-after-end',
    type: 'WritableStreamDefaultWriter',
    method: 'write',
    endMethod: 'close',
    cause: 'late-callback',
    end: ['end', 'writer.close'],
    late: ['late', 'writer.write'],
    hint: /^a callback wrote after writer\.close\(\.\.\.\)/,
    // no unhandled rejection: the process exits 0
    enforce: { out: [{ rows: ['{"id":1}', '{"id":2}'] }, { exit: 0 }], code: 0 },
    strict: { code: 1, stderr: /Error: endguard: write\(\) after the stream was ended \(write-after-end; ended at / },
  },
  {
    fixture: 'webstreams/pipeto-abort.js',
    kind: 'write-after-destroy',
    type: 'ReadableStreamDefaultController',
    method: 'enqueue',
    endMethod: 'abort',
    cause: 'destroyed',
    end: ['end', 'ac.abort'],
    late: ['late', 'controller.enqueue'],
    hint: /^the pipeTo\(\) was aborted by its AbortSignal \(reason: AbortError\), which cancelled the stream before controller\.enqueue\(\.\.\.\)/,
    enforce: { out: [{ seen: ['event 1'], pipe: 'AbortError', late: 'accepted' }] },
    strict: { out: [{ seen: ['event 1'], pipe: 'AbortError', late: 'ERR_ENDGUARD_WRITE_AFTER_DESTROY' }] },
  },
  {
    // the pipe aborted its destination from Node's code: the signal's abort() is that end too
    fixture: 'webstreams/pipeto-abort.js',
    args: ['dest-write'],
    kind: 'write-after-destroy',
    type: 'WritableStreamDefaultWriter',
    method: 'write',
    endMethod: 'abort',
    cause: 'destroyed',
    end: ['end', 'ac.abort'],
    late: ['late-dest', 'getWriter().write'],
    hint: /^the stream was aborted before /,
    enforce: { out: [{ seen: ['event 1'], pipe: 'AbortError', late: 'accepted' }] },
    strict: { out: [{ seen: ['event 1'], pipe: 'AbortError', late: 'ERR_ENDGUARD_WRITE_AFTER_DESTROY' }] },
  },
  {
    fixture: 'webstreams/pipeto-abort.js',
    args: ['dest-error'],
    kind: 'write-after-destroy',
    type: 'ReadableStreamDefaultController',
    method: 'enqueue',
    endMethod: 'cancel',
    cause: 'destroyed',
    // Node's pipe cancels the source from its own code: the end site is the pipeTo() that set it up
    end: ['end-pipe', 'events.pipeTo'],
    late: ['late', 'controller.enqueue'],
    hint: /^the consumer cancelled the stream \(reason: TypeError\) before controller\.enqueue\(\.\.\.\)/,
    enforce: { out: [{ seen: ['event 1'], pipe: 'TypeError', late: 'accepted' }] },
    strict: { out: [{ seen: ['event 1'], pipe: 'TypeError', late: 'ERR_ENDGUARD_WRITE_AFTER_DESTROY' }] },
  },
  {
    fixture: 'webstreams/library-cancel.js',
    kind: 'write-after-destroy',
    type: 'ReadableStreamDefaultController',
    method: 'enqueue',
    endMethod: 'cancel',
    cause: 'destroyed',
    // no frame of the app: the library's own frame, and its reason's code (never the message)
    end: ['end', 'reader.cancel'],
    endFile: 'webstreams/node_modules/fake-sdk/index.js',
    late: ['late', 'controller.enqueue'],
    hint: /^the consumer cancelled the stream \(by fake-sdk, reason: ERR_SDK_TIMEOUT\) before controller\.enqueue\(\.\.\.\)/,
    enforce: { out: [{ first: 'chunk 1', late: 'accepted' }] },
    strict: { out: [{ first: 'chunk 1', late: 'ERR_ENDGUARD_WRITE_AFTER_DESTROY' }] },
  },
  {
    fixture: 'webstreams/byte-stream.js',
    args: ['cancel'],
    kind: 'write-after-destroy',
    type: 'ReadableByteStreamController',
    method: 'enqueue',
    endMethod: 'cancel',
    cause: 'destroyed',
    end: ['end', 'reader.cancel'],
    late: ['late', 'controller.enqueue'],
    hint: /^the consumer cancelled the stream before controller\.enqueue\(\.\.\.\): listen for the consumer's cancel\(reason\)/,
    enforce: { out: [{ first: [1, 2, 3], late: 'accepted' }] },
    strict: { out: [{ first: [1, 2, 3], late: 'ERR_ENDGUARD_WRITE_AFTER_DESTROY' }] },
  },
  {
    fixture: 'webstreams/byte-stream.js',
    args: ['close'],
    kind: 'double-end',
    type: 'ReadableByteStreamController',
    method: 'close',
    endMethod: 'close',
    cause: 'double-end',
    end: ['end-close', 'controller.close'],
    late: ['late-close', 'controller.close'],
    enforce: { out: [{ first: [1, 2, 3], late: 'accepted' }] },
    strict: { out: [{ first: [1, 2, 3], late: 'ERR_ENDGUARD_DOUBLE_END' }] },
  },
  {
    fixture: 'webstreams/bridges.js',
    args: ['writer-close'],
    kind: 'write-after-end',
    type: 'PassThrough',
    code: 'ERR_STREAM_WRITE_AFTER_END',
    method: 'write',
    endMethod: 'close',
    cause: 'late-callback',
    end: ['end-writer', 'writer.close'],
    late: ['late', 'stream.write'],
    // a Node stream: enforce drops the write, no 'error' event, its callback answered
    enforce: { out: [{ seen: ['returned:false', 'callback:ERR_STREAM_WRITE_AFTER_END'] }] },
    strict: { code: 1, stderr: /Error: endguard: write\(\) after the stream was ended \(write-after-end; ended at / },
  },
  {
    fixture: 'webstreams/bridges.js',
    args: ['reader-cancel'],
    kind: 'write-after-destroy',
    type: 'PassThrough',
    code: 'ERR_STREAM_DESTROYED',
    method: 'write',
    endMethod: 'cancel',
    cause: 'destroyed',
    end: ['end-cancel', 'reader.cancel'],
    late: ['late', 'stream.write'],
    // Node drops writes to a destroyed stream itself (node streams' enforce leaves them to it)
    enforce: { out: [{ first: 'first' }, { seen: ['returned:false', 'callback:ERR_STREAM_DESTROYED'] }] },
    strict: { code: 1, stderr: /Error: endguard: write\(\) after the stream was destroyed \(write-after-destroy; destroyed at / },
  },
  {
    fixture: 'webstreams/bridges.js',
    args: ['response-writer'],
    kind: 'write-after-destroy',
    type: 'WritableStreamDefaultWriter',
    method: 'write',
    endMethod: 'error',
    cause: 'client-disconnect',
    end: null,
    late: ['late-writer', '.write'],
    enforce: { out: [{ client: { status: 200, first: 'hello' } }, { late: 'accepted' }] },
    strict: { out: [{ client: { status: 200, first: 'hello' } }, { late: 'ERR_ENDGUARD_WRITE_AFTER_DESTROY' }] },
  },
  {
    fixture: 'webstreams/bridges.js',
    args: ['node-end'],
    kind: 'write-after-end',
    type: 'WritableStreamDefaultWriter',
    method: 'write',
    endMethod: 'end',
    cause: 'late-callback',
    // Node's adapter errors the web side from its own code: the end site is the Node side's end()
    end: ['end-node', 'out.end'],
    late: ['late-node', 'writer.write'],
    enforce: { out: [{ late: 'accepted' }] },
    strict: { out: [{ late: 'ERR_ENDGUARD_WRITE_AFTER_END' }] },
  },
  {
    fixture: 'webstreams/bridges.js',
    args: ['response-body'],
    kind: 'write-after-destroy',
    type: 'PassThrough',
    code: 'ERR_STREAM_DESTROYED',
    method: 'write',
    endMethod: 'cancel',
    cause: 'client-disconnect',
    end: null,
    late: ['late', 'stream.write'],
    enforce: { out: [{ client: { status: 200, first: 'tick 1\n' } }, { seen: ['returned:false', 'callback:ERR_STREAM_DESTROYED'] }] },
    strict: { code: 1, stderr: /Error: endguard: write\(\) after the stream was destroyed \(write-after-destroy; destroyed at an unknown site: no code ended this stream: the client closed the connection\)/ },
  },
];

function label(c: Case): string {
  return `${c.fixture} ${c.args?.join(' ') ?? ''}`.trim();
}

/** strict: the thrown error's message (printed by the fixture) names the end site. */
function strictOut(actual: Record<string, any>[], expected: unknown[], endSite: string | null): void {
  expect(actual.length, JSON.stringify(actual)).toBe(expected.length);
  expected.forEach((want, i) => {
    const got = actual[i]!;
    if ((want as { message?: string }).message === 'STRICT') expect(got.message).toContain(`at ${endSite}`);
    else expect(got).toMatchObject(want as object);
    if (typeof got.message === 'string' && endSite !== null) expect(got.message).toContain(`at ${endSite}`);
  });
}

function expectReport(c: Case, run: RunResult, mode: Mode): Record<string, any> {
  expect(run.reports, run.stderr).toHaveLength(1);
  const r = run.reports[0]!;
  expect(r).toMatchObject({ endguard: 1, kind: c.kind, type: c.type, method: c.method, endMethod: c.endMethod, cause: c.cause, mode, capture: 'always', count: 1 });
  expect(r.code).toBe(c.code ?? 'ERR_INVALID_STATE');
  expect(r.lateSite).toBe(markedSite(c.fixture, c.late[0], c.late[1]));
  expect(r.lateStack).toMatch(new RegExp(`^Error \\[${r.code}\\]: `));
  if (c.end === null) {
    expect(r.endSite).toBeNull();
    expect(r.endStack).toBeNull();
    expect(r.endSiteNote).toBe('no code ended this stream: the client closed the connection');
    expect(Date.parse(r.closedAt)).toBeGreaterThan(0);
    expect(r.closedAgoMs).toBeGreaterThanOrEqual(0);
  } else {
    expect(r.endSite).toBe(markedSite(c.endFile ?? c.fixture, c.end[0], c.end[1]));
    expect(r.endStack).toMatch(new RegExp(`^Error: ${c.endMethod}\\(\\) here\\n {4}at `));
    expect(r.closedAt).toBeUndefined();
  }
  if (c.hint !== undefined) expect(r.hint).toMatch(c.hint);
  expect(JSON.stringify(r)).not.toContain('SECRET');
  return r;
}

describe.concurrent('web streams: the late call, both sites, each mode', () => {
  for (const c of cases) {
    for (const preload of ['require', 'import'] as Preload[]) {
      it(`${label(c)}: observe (--${preload}) behaves as without the agent`, async () => {
        const [run, bare] = await Promise.all([runFixture(c.fixture, preload, { args: c.args }), runFixture(c.fixture, 'none', { args: c.args })]);
        expectReport(c, run, 'observe');
        expect(run.out).toEqual(bare.out);
        expect(run.code).toBe(bare.code);
        expect(bare.reports).toHaveLength(0);
      });

      it(`${label(c)}: enforce (--${preload}) drops the late call`, async () => {
        const run = await runFixture(c.fixture, preload, { args: c.args, env: { ENDGUARD_MODE: 'enforce' } });
        expectReport(c, run, 'enforce');
        expect(run.out).toEqual(c.enforce.out);
        expect(run.code).toBe(c.enforce.code ?? 0);
        const notReports = run.stderr.split('\n').filter((l) => !l.startsWith('{"endguard":1'));
        expect(notReports.join('\n')).not.toMatch(/Unhandled|ERR_INVALID_STATE\]: Invalid state/);
      });

      it(`${label(c)}: strict (--${preload}) throws at the late call, naming the end site`, async () => {
        const run = await runFixture(c.fixture, preload, { args: c.args, env: { ENDGUARD_MODE: 'strict' } });
        const r = expectReport(c, run, 'strict');
        if (c.strict.out !== undefined) strictOut(run.out, c.strict.out, r.endSite);
        if (c.strict.code !== undefined) expect(run.code).toBe(c.strict.code);
        if (c.strict.stderr !== undefined) expect(run.stderr).toMatch(c.strict.stderr);
        if (r.endSite !== null && c.strict.stderr !== undefined) expect(run.stderr).toContain(`at ${r.endSite})`);
      });
    }
  }
});

describe('web streams: no report for a correct app', () => {
  it.each(['require', 'import'] as Preload[])('a clean web-streams app under load (--%s): zero reports, the same output', async (preload) => {
    const [run, bare] = await Promise.all([
      runFixture('webstreams/clean-load.js', preload, { timeoutMs: 60_000, env: { ENDGUARD_MODE: 'strict' } }),
      runFixture('webstreams/clean-load.js', 'none', { timeoutMs: 60_000 }),
    ]);
    expect(run.stderr).toBe('');
    expect(run.reports).toHaveLength(0);
    expect(run.out).toEqual([{ results: { 200: 280, aborted: 80 } }]);
    expect(run.out).toEqual(bare.out);
    expect(run.code).toBe(0);
  }, 90_000);
  it.each(['require', 'import'] as Preload[])(
    "Hono's streamSSE with onAbort, client gone (--%s): Hono's own cleanup after the disconnect is not reported, strict included",
    async (preload) => {
      const [observe, strict, bare] = await Promise.all([
        runFixture('webstreams/hono-sse.js', preload, { args: ['guarded'] }),
        runFixture('webstreams/hono-sse.js', preload, { args: ['guarded'], env: { ENDGUARD_MODE: 'strict' } }),
        runFixture('webstreams/hono-sse.js', 'none', { args: ['guarded'] }),
      ]);
      for (const run of [observe, strict]) {
        expect(run.stderr).toBe('');
        expect(run.reports).toHaveLength(0);
        expect(run.out).toEqual(bare.out);
        expect(run.code).toBe(0);
      }
      expect(bare.out).toEqual([{ client: { status: 200 } }, { handler: 'done', aborted: true }, { health: { status: 200, body: 'ok' } }]);
    },
  );
  it.each(['require', 'import'] as Preload[])(
    "Hono's stream.close(), then Hono's run() closing it again (--%s): the library's second close is not a double end, strict included",
    async (preload) => {
      const [observe, strict, bare] = await Promise.all([
        runFixture('webstreams/hono-close.js', preload),
        runFixture('webstreams/hono-close.js', preload, { env: { ENDGUARD_MODE: 'strict' } }),
        runFixture('webstreams/hono-close.js', 'none'),
      ]);
      expect(bare.out).toEqual([{ '/sse': { status: 200, body: 'data: one\n\n' } }, { '/text': { status: 200, body: 'hello' } }]);
      for (const run of [observe, strict]) {
        expect(run.stderr).toBe('');
        expect(run.reports).toHaveLength(0);
        expect(run.out).toEqual(bare.out);
        expect(run.code).toBe(0);
      }
    },
  );
});

describe('web streams: capture policy', () => {
  it('armed: the first report of each family has the late site only, the next one both', async () => {
    const fixture = 'webstreams/armed-repeat.js';
    const run = await runFixture(fixture, 'require', { env: { NODE_ENV: 'production', ENDGUARD_CAPTURE: 'armed' } });
    expect(run.reports).toHaveLength(6);
    const families = ['readable', 'writer', 'transform'];
    const types = ['ReadableStreamDefaultController', 'WritableStreamDefaultWriter', 'TransformStreamDefaultController'];
    families.forEach((family, i) => {
      const [first, second, ...more] = run.reports.filter((r) => r.type === types[i]);
      expect(more).toHaveLength(0);
      const lateSite = markedSite(fixture, `late-${family}`, family === 'writer' ? 'w.write' : 'controller.enqueue');
      expect(first).toMatchObject({ capture: 'armed', kind: 'write-after-end', endSite: null, lateSite });
      expect(first!.endSiteNote).toMatch(/next occurrence/);
      expect(second).toMatchObject({ capture: 'armed', lateSite });
      expect(second!.endSite).toBe(markedSite(fixture, `end-${family}`, family === 'writer' ? 'w.close' : family === 'transform' ? 'controller.terminate' : 'controller.close'));
    });
  });

  it('budget (the NODE_ENV=production default): both sites from the first report of each family', async () => {
    const fixture = 'webstreams/armed-repeat.js';
    const run = await runFixture(fixture, 'require', { env: { NODE_ENV: 'production' } });
    const families = ['readable', 'writer', 'transform'];
    const types = ['ReadableStreamDefaultController', 'WritableStreamDefaultWriter', 'TransformStreamDefaultController'];
    families.forEach((family, i) => {
      const first = run.reports.find((r) => r.type === types[i]);
      expect(first).toMatchObject({ capture: 'budget', kind: 'write-after-end' });
      expect(first!.endSite).toBe(markedSite(fixture, `end-${family}`, family === 'writer' ? 'w.close' : family === 'transform' ? 'controller.terminate' : 'controller.close'));
    });
  });

  it('armed: a client disconnect is named from its first occurrence', async () => {
    const run = await runFixture('webstreams/sse-hono.js', 'require', { env: { NODE_ENV: 'production', ENDGUARD_CAPTURE: 'armed', ENDGUARD_MODE: 'enforce' } });
    expect(run.reports).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({ capture: 'armed', cause: 'client-disconnect', endSite: null, endMethod: 'cancel' });
    expect(run.reports[0]!.endSiteNote).toBe('no code ended this stream: the client closed the connection');
  });
});

describe('web streams: loading and shape', () => {
  it.each(['require', 'import'] as Preload[])('nothing is loaded until the app first uses a web stream; the globals are the same after (--%s)', async (preload) => {
    const [run, bare] = await Promise.all([runFixture('webstreams/lazy-load.js', preload), runFixture('webstreams/lazy-load.js', 'none')]);
    expect(run.stderr).toBe('');
    expect(run.out).toEqual(bare.out);
    expect(run.out[0]).toMatchObject({ atStart: [], beforeFirstUse: [], same: true });
    expect(run.out[0]!.afterFirstUse.length).toBeGreaterThan(0);
  });

  it('wrapped methods keep their names, lengths and non-constructibility', async () => {
    const [run, bare] = await Promise.all([runFixture('webstreams/wrapped-shape.js', 'require'), runFixture('webstreams/wrapped-shape.js', 'none')]);
    expect(run.out[0]!.wrapped).toBe(true);
    expect(bare.out[0]!.wrapped).toBe(false);
    expect(run.out[0]!.shape).toEqual(bare.out[0]!.shape);
  });

  it('an unknown internal shape (another Node): one warning, the same behaviour, late calls still reported without an end site', async () => {
    const fixture = 'faults/webstreams-unknown-shape.js';
    const [run, enforce, bare] = await Promise.all([
      runFixture(fixture, 'require'),
      runFixture(fixture, 'require', { env: { ENDGUARD_MODE: 'enforce' } }),
      runFixture(fixture, 'none'),
    ]);
    expect(run.out).toEqual(bare.out);
    expect(run.code).toBe(bare.code);
    const warnings = run.stderr.split('\n').filter((l) => l.startsWith('endguard:'));
    expect(warnings).toEqual([expect.stringMatching(/^endguard: Node v[\d.]+'s web streams have an internal shape endguard does not know/)]);
    expect(run.reports.map((r) => [r.kind, r.method, r.endSite])).toEqual([
      ['write-after-end', 'enqueue', null],
      ['double-end', 'close', null],
    ]);
    expect(run.reports[0]!.lateSite).toBe(markedSite(fixture, 'late', 'controller.enqueue'));
    // enforce drops both controller calls; the writer is not watched (its rejection stays)
    expect(enforce.out).toEqual([{ seen: ['write:ERR_INVALID_STATE', 'read:a'] }]);
  });
});

// @opentelemetry/sdk-node 0.301 needs Node >= 22.15 (see otel.test.ts)
const [major = 0, minor = 0] = execFileSync(NODE, ['-p', 'process.versions.node']).toString().trim().split('.').map(Number);
const sdkIt = it.runIf(major > 22 || (major === 22 && minor >= 15));

describe('web streams: OpenTelemetry', () => {
  let receiver: Receiver;
  beforeEach(async () => {
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await receiver.close();
  });

  const APP = path.join(FIXTURES, 'otel', 'webstreams-app.js');

  function serverSpan(spans: ReceivedSpan[], urlPath: string): ReceivedSpan {
    const found = spans.filter((s) => s.kind === 2 && s.attributes['url.path'] === urlPath);
    expect(found).toHaveLength(1);
    return found[0]!;
  }

  sdkIt('each late call is a child span in the trace of the request that created the stream', async () => {
    const run = await runNode(['--import', path.join(ROOT, 'dist', 'otel-entry.js'), APP], {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'endguard-e2e', OTEL_BSP_SCHEDULE_DELAY: '600000' },
    });
    expect(run.code).toBe(0);
    expect(run.out[0]).toEqual({ tokens: { status: 200, body: 'SECRET_PAYLOAD first' } });
    const spans = receiver.spans();
    for (const [urlPath, kind, cause, late, end] of [
      ['/tokens', 'write-after-end', 'late-callback', 'late', 'end'],
      ['/events', 'write-after-destroy', 'client-disconnect', 'late-event', null],
    ] as const) {
      const server = serverSpan(spans, urlPath);
      const children = spans.filter((s) => s.name === `endguard.${kind}` && s.parentSpanId === server.spanId);
      expect(children).toHaveLength(1);
      const child = children[0]!;
      expect(child.traceId).toBe(server.traceId);
      expect(child.status.code).toBe(2);
      const event = child.events.find((e) => e.name === 'exception')!;
      expect(event.attributes).toMatchObject({
        'exception.type': 'ERR_INVALID_STATE',
        'exception.message': CLOSED,
        'endguard.kind': kind,
        'endguard.cause': cause,
        'endguard.late.site': markedSite(APP, late, 'controller.enqueue'),
      });
      if (end === null) expect(event.attributes['endguard.end.site']).toBeUndefined();
      else expect(event.attributes['endguard.end.site']).toBe(markedSite(APP, end, 'controller.close'));
    }
    for (const e of receiver.exports) expect(e.body.includes('SECRET_PAYLOAD')).toBe(false);
    for (const s of spans.filter((x) => x.scope === 'endguard')) expect(JSON.stringify(s)).not.toContain('SECRET');
  });
});

describe('a pipeline() whose source is a web stream destroys it when the destination fails', () => {
  const file = 'webstreams/pipeline-cancel.js';
  for (const [scenario, endMethod, call, pipelineResult] of [
    ['dest-error', 'cancel', 'pipeline', 'disk full'],
    ['dest-destroy', 'destroy', 'dest.destroy', 'ERR_STREAM_PREMATURE_CLOSE'],
    ['direct', 'cancel', 'pipeline', 'disk full'],
  ] as const) {
    it(`${scenario}: the late enqueue() names ${call}() as the end site`, async () => {
      const [bare, run] = await Promise.all([runFixture(file, 'none', { args: [scenario] }), runFixture(file, 'require', { args: [scenario] })]);
      expect(bare.out).toEqual([{ pipeline: pipelineResult, thrown: 'ERR_INVALID_STATE' }]);
      expect(run.out).toEqual(bare.out);
      expect(run.reports).toHaveLength(1);
      expect(run.reports[0]).toMatchObject({
        kind: 'write-after-destroy',
        type: 'ReadableStreamDefaultController',
        code: 'ERR_INVALID_STATE',
        method: 'enqueue',
        endMethod,
        endSite: markedSite(file, `end-${scenario}`, call),
        lateSite: markedSite(file, 'late', 'controller.enqueue'),
        cause: 'destroyed',
      });
    });
  }
});

describe('armed capture: a client disconnect that reaches the source through a pipe', () => {
  for (const scenario of ['text-encoder', 'two-hops']) {
    it(`${scenario}: client-disconnect from the first occurrence, although nothing was captured`, async () => {
      const run = await runFixture('webstreams/hono-sse.js', 'require', { args: [scenario], env: { ENDGUARD_CAPTURE: 'armed' } });
      expect(run.reports).toHaveLength(1);
      expect(run.reports[0]).toMatchObject({
        kind: 'write-after-destroy',
        type: 'ReadableStreamDefaultController',
        endMethod: 'cancel',
        endSite: null,
        cause: 'client-disconnect',
        capture: 'armed',
        lateSite: markedSite('webstreams/hono-sse.js', 'late', 'controller.enqueue'),
      });
      expect(run.reports[0]!.closedAgoMs).toBeGreaterThanOrEqual(0);
    });
  }
});

describe("the app's own cancel in the response's 'close'", () => {
  it('client-disconnect, and the note says the app cancelled it (not that no code did)', async () => {
    const file = 'webstreams/app-cancel-on-close.js';
    const [bare, run] = await Promise.all([runFixture(file, 'none'), runFixture(file, 'require')]);
    expect(run.out).toEqual(bare.out);
    expect(run.reports).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({
      kind: 'write-after-destroy',
      endMethod: 'cancel',
      endSite: null,
      lateSite: markedSite(file, 'late', 'controller.enqueue'),
      cause: 'client-disconnect',
      endSiteNote: "the client closed the connection, and your code cancelled this stream in the response's 'close'",
    });
  });
});

describe('a web stream errored from inside (its source or sink failed)', () => {
  it("the report says so, with endMethod error, instead of 'ended where endguard could not see it'", async () => {
    const file = 'webstreams/errored-inside.js';
    const [bare, run] = await Promise.all([runFixture(file, 'none'), runFixture(file, 'require')]);
    expect(bare.out).toEqual([
      { read: 'upstream read failed', firstWrite: 'disk full', transform: 'bad row', enqueue: 'ERR_INVALID_STATE', write: 'disk full', transformEnqueue: 'ERR_INVALID_STATE' },
    ]);
    expect(run.out).toEqual(bare.out);
    expect(run.reports).toHaveLength(3);
    expect(run.reports[2]).toMatchObject({ kind: 'write-after-destroy', type: 'TransformStreamDefaultController', method: 'enqueue', endMethod: 'error', endSite: null, lateSite: markedSite(file, 'late-transform', 'transformer.enqueue') });
    const note = /^no call of your code ended it: the stream errored from inside \(its underlying source, sink or transformer threw or rejected/;
    expect(run.reports[0]).toMatchObject({ kind: 'write-after-destroy', type: 'ReadableStreamDefaultController', method: 'enqueue', endMethod: 'error', endSite: null, lateSite: markedSite(file, 'late-enqueue', 'controller.enqueue'), cause: 'destroyed' });
    expect(run.reports[1]).toMatchObject({ kind: 'write-after-destroy', type: 'WritableStreamDefaultWriter', method: 'write', endMethod: 'error', endSite: null, lateSite: markedSite(file, 'late-write', 'writer.write'), cause: 'destroyed' });
    for (const r of run.reports) {
      expect(r.endSiteNote).toMatch(note);
      expect(r.hint).not.toMatch(/controller\.error\(\)|cancel\(reason\)/);
      expect(r.hint).toMatch(/^the stream errored from inside \(its source, sink or transformer threw or rejected\) before /);
    }
  });

  it("the app's own error() and abort() under armed capture: no end site yet, and not taken for an error from inside", async () => {
    const file = 'webstreams/explicit-error.js';
    const [bare, run] = await Promise.all([runFixture(file, 'none'), runFixture(file, 'require', { env: { ENDGUARD_CAPTURE: 'armed' } })]);
    expect(run.out).toEqual(bare.out);
    expect(run.reports).toHaveLength(2);
    for (const r of run.reports) {
      expect(r).toMatchObject({ kind: 'write-after-destroy', endSite: null, capture: 'armed' });
      expect(r.endSiteNote).toMatch(/^armed capture: the end site is recorded from the next occurrence/);
    }
    // the same program under always: both end sites are the app's calls
    const always = await runFixture(file, 'require');
    expect(always.reports.map((r) => [r.endMethod, r.endSite])).toEqual([
      ['error', markedSite(file, 'end-error', 'controller.error')],
      ['abort', markedSite(file, 'end-abort', 'writer.abort')],
    ]);
  });
});
