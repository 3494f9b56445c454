import { describe, expect, it } from 'vitest';
import { markedSite, runFixture, type Preload } from '../support/run';

interface Case {
  fixture: string;
  args?: string[];
  kind: string;
  type: string;
  method: string;
  cause: string;
  /** [marker, call text] of the expected end site; null when there is none */
  end: [string, string] | null;
  late: [string, string] | null;
  hint?: RegExp;
  client?: unknown;
  exit?: number;
  code?: string | null;
  endMethod?: string;
  /** Further reports of the same end, each with its own late site (in order). */
  also?: { lateSite: [string, string] }[];
}

const cases: Case[] = [
  {
    fixture: 'missing-return.js',
    kind: 'write-after-end',
    type: 'ServerResponse',
    method: 'end',
    cause: 'missing-return',
    end: ['end', 'res.end'],
    late: ['late', 'res.end'],
    hint: /^return after res\.end\(\.\.\.\)$/,
    exit: 1, // the late end(chunk) emits 'error' on the response: unhandled, the process dies, as without the agent
  },
  {
    fixture: 'late-callback.js',
    kind: 'write-after-end',
    type: 'ServerResponse',
    method: 'end',
    cause: 'late-callback',
    end: ['end', 'res.end'],
    late: ['late', 'res.end'],
    client: { status: 504, body: 'timeout' },
  },
  {
    fixture: 'express-missing-return.js',
    kind: 'headers-after-sent',
    type: 'ServerResponse',
    method: 'setHeader',
    cause: 'missing-return',
    end: ['end', 'res.status(400).json'],
    late: ['late', 'res.json'],
    hint: /^return after res\.json\(\.\.\.\)$/,
  },
  {
    fixture: 'express-helper-response.js',
    args: ['helper'],
    kind: 'headers-after-sent',
    type: 'ServerResponse',
    method: 'setHeader',
    cause: 'missing-return',
    end: ['end-helper', 'res.status(400).json'],
    late: ['late-helper', 'res.json'],
    client: { status: 400, body: '{"error":"id required"}' },
  },
  {
    fixture: 'express-helper-response.js',
    args: ['format'],
    kind: 'headers-after-sent',
    type: 'ServerResponse',
    method: 'setHeader',
    cause: 'missing-return',
    end: ['end-format', 'res.json'],
    late: ['late-format', 'res.send'],
    client: { status: 200, body: '{"first":true}' },
  },
  {
    fixture: 'express-double-send.js',
    kind: 'headers-after-sent',
    type: 'ServerResponse',
    method: 'setHeader',
    cause: 'double-send',
    end: ['end', 'res.send'],
    late: ['late', 'res.send'],
    client: { status: 200, body: 'hello' },
  },
  {
    fixture: 'express-session-double-send.js',
    kind: 'headers-after-sent',
    type: 'ServerResponse',
    method: 'setHeader',
    cause: 'double-send',
    end: ['end', 'res.json'],
    late: ['late', 'res.json'],
    client: { status: 200, body: '{"name":"ada"}' },
  },
  {
    fixture: 'express-next-after-send.js',
    kind: 'headers-after-sent',
    type: 'ServerResponse',
    method: 'setHeader',
    cause: 'next-after-send',
    end: ['end', 'res.status(401).send'],
    late: ['late', 'res.send'],
    client: { status: 401, body: 'unauthorized' },
  },
  {
    fixture: 'express-next-after-send.js',
    args: ['handler-async'],
    kind: 'headers-after-sent',
    type: 'ServerResponse',
    method: 'setHeader',
    cause: 'next-after-send',
    end: ['end', 'res.status(401).send'],
    late: ['late-handler-async', 'res.send'],
    client: { status: 401, body: 'unauthorized' },
  },
  {
    fixture: 'express-next-after-send.js',
    args: ['async'],
    kind: 'headers-after-sent',
    type: 'ServerResponse',
    method: 'setHeader',
    cause: 'next-after-send',
    end: ['end-async', 'res.status(401).send'],
    late: ['late', 'res.send'],
    client: { status: 401, body: 'unauthorized' },
  },
  {
    fixture: 'express-nested-callback.js',
    kind: 'headers-after-sent',
    type: 'ServerResponse',
    method: 'setHeader',
    cause: 'missing-return',
    end: ['end', 'res.status(400).send'],
    late: ['late', 'res.send'],
    client: { status: 400, body: 'id required' },
  },
  {
    fixture: 'pipe-ended.js',
    kind: 'write-after-end',
    type: 'ServerResponse',
    method: 'write',
    cause: 'pipe-ended',
    end: ['end', 'body.pipe'],
    late: ['late', 'res.write'],
    client: { status: 200, body: 'line 1\nline 2\n' },
  },
  {
    fixture: 'ended-under-pipe.js',
    kind: 'write-after-end',
    type: 'ServerResponse',
    method: 'write',
    cause: 'pipe-and-end',
    end: ['end', 'res.end'],
    late: ['late', 'feed.pipe'],
    hint: /^res\.end\(\.\.\.\) ended res while a pipe was still writing into it: unpipe or destroy the source before ending res/,
    client: { status: 200, body: 'row 1\n-- cut --\n' },
  },
  {
    fixture: 'pipeline-then-write.js',
    kind: 'write-after-end',
    type: 'ServerResponse',
    method: 'write',
    cause: 'pipe-ended',
    end: ['end', 'pipeline'],
    late: ['late', 'res.write'],
  },
  {
    fixture: 'pipeline-generator.js',
    kind: 'write-after-end',
    type: 'ServerResponse',
    method: 'end',
    cause: 'pipe-ended',
    end: ['end', 'pipeline'],
    late: ['late', 'res.end'],
  },
  {
    fixture: 'pipeline-promises.mjs',
    kind: 'write-after-end',
    type: 'ServerResponse',
    method: 'write',
    cause: 'pipe-ended',
    end: ['end', 'pipeline'],
    late: ['late', 'res.write'],
    client: { status: 200, body: 'total,3\n' },
  },
  {
    fixture: 'pipe-two-sources.js',
    args: ['write'],
    kind: 'write-after-end',
    type: 'Writable',
    method: 'write',
    cause: 'pipe-multiple-sources',
    end: ['end', 'quick.pipe'],
    late: ['late', 'slow.pipe'],
  },
  {
    fixture: 'pipe-two-sources.js',
    args: ['end'],
    kind: 'double-end',
    type: 'Writable',
    method: 'end',
    cause: 'pipe-multiple-sources',
    end: ['end', 'quick.pipe'],
    late: ['late', 'slow.pipe'],
  },
  // no late write reaches any wrapper: the pipe's unpipe on 'finish' drops the rest (code null: Node raises nothing)
  {
    fixture: 'pipe-cut-off.js',
    args: ['two'],
    kind: 'write-after-end',
    type: 'ServerResponse',
    method: 'write',
    endMethod: 'pipe',
    cause: 'pipe-multiple-sources',
    code: null,
    end: ['end-two', 'createReadStream(head).pipe'],
    late: ['late-two', 'createReadStream(body).pipe'],
    client: { status: 200, complete: false },
  },
  {
    fixture: 'pipe-cut-off.js',
    args: ['early'],
    kind: 'write-after-end',
    type: 'ServerResponse',
    method: 'write',
    endMethod: 'end',
    cause: 'pipe-and-end',
    code: null,
    end: ['end-early', 'res.end'],
    late: ['late-early', 'createReadStream(body).pipe'],
    hint: /^res\.end\(\.\.\.\) ended res while a pipe was still writing into it/,
    client: { status: 200, complete: false },
  },
  ...['single', 'nested'].map((layers) => ({
    fixture: 'app-instance-wrapper.js',
    args: [layers],
    kind: 'write-after-end',
    type: 'ServerResponse',
    method: 'write',
    cause: 'late-callback',
    end: ['end', 'res.end'] as [string, string],
    late: ['late', 'res.write'] as [string, string],
    client: { status: 200, body: 'first' },
  })),
  {
    fixture: 'app-instance-wrapper.js',
    args: ['pipe'],
    kind: 'write-after-end',
    type: 'ServerResponse',
    method: 'write',
    endMethod: 'pipe',
    cause: 'pipe-ended',
    end: ['end-pipe', 'rows.pipe'],
    late: ['late', 'res.write'],
    client: { status: 200, body: 'first' },
  },
  ...(['node:stream', 'readable-stream'] as const).map((pkg) => ({
    fixture: 'subclass-override.js',
    args: [pkg],
    kind: 'write-after-end',
    type: 'Logger',
    method: 'write',
    cause: 'late-callback',
    end: ['end', 'log.end'] as [string, string],
    late: ['late-a', 'log.write'] as [string, string],
    hint: /^a callback wrote after log\.end\(\.\.\.\): check log\.writableEnded before log\.write/,
    also: [{ lateSite: ['late-b', 'log.write'] as [string, string] }],
  })),
  ...(['node:stream', 'readable-stream'] as const).map((pkg) => ({
    fixture: 'abort-signal.js',
    args: [pkg],
    kind: 'write-after-destroy',
    type: 'Writable',
    method: 'write',
    endMethod: 'destroy',
    cause: 'destroyed',
    end: ['end', 'controller.abort'] as [string, string],
    late: ['late', 'out.write'] as [string, string],
  })),
  {
    fixture: 'headers-by-pipe.js',
    kind: 'headers-after-sent',
    type: 'ServerResponse',
    method: 'setHeader',
    endMethod: 'write',
    cause: 'headers-already-sent',
    end: ['end', 'src.pipe'],
    late: ['late', 'res.setHeader'],
    hint: /^a pipe into res sent the headers with its first write, before res\.setHeader\(\.\.\.\): set them before piping/,
    client: 'first chunk\nlast\n',
  },
  {
    fixture: 'interval-ticks.js',
    kind: 'write-after-end',
    type: 'ServerResponse',
    method: 'write',
    cause: 'late-callback',
    end: ['end', 'res.end'],
    late: ['late', 'res.write'],
    client: { status: 200, body: 'data: 1\n\ndata: 2\n\n' },
  },
  {
    fixture: 'pubsub-keepalive.js',
    kind: 'write-after-end',
    type: 'ServerResponse',
    method: 'write',
    cause: 'late-subscriber',
    end: ['end', 'res.end'],
    late: ['late', 'res.write'],
    client: [
      { status: 200, body: 'subscribed' },
      { status: 200, body: 'published' },
    ],
  },
  {
    fixture: 'proxy-client-disconnect.js',
    args: ['late-data'],
    kind: 'write-after-destroy',
    type: 'ServerResponse',
    method: 'write',
    cause: 'client-disconnect',
    end: null,
    late: null, // only http-proxy's own pipe(): no frame of the app
  },
  {
    fixture: 'proxy-client-disconnect.js',
    args: ['default-handler'],
    kind: 'write-after-destroy',
    type: 'ServerResponse',
    method: 'end',
    cause: 'client-disconnect',
    end: null,
    late: null, // http-proxy-middleware's own error handler: no frame of the app
  },
  {
    fixture: 'proxy-client-disconnect.js',
    args: ['error-handler'],
    kind: 'write-after-destroy',
    type: 'ServerResponse',
    method: 'end',
    cause: 'client-disconnect',
    end: null,
    late: ['late-error-handler', 'res.end'],
  },
  {
    fixture: 'sse-client-disconnect.js',
    kind: 'write-after-destroy',
    type: 'ServerResponse',
    method: 'write',
    cause: 'client-disconnect',
    end: null,
    late: ['late', 'res.write'],
  },
  {
    fixture: 'sse-cancel.js',
    kind: 'write-after-end',
    type: 'ServerResponse',
    method: 'write',
    cause: 'late-subscriber',
    end: ['end', 'res.end'],
    late: ['late', 'res.write'],
    client: { status: 200, body: 'event: bye\n\n' },
  },
  {
    fixture: 'double-end-pipe.js',
    kind: 'double-end',
    type: 'ServerResponse',
    method: 'end',
    cause: 'pipe-and-end',
    end: ['end', 'body.pipe'],
    late: ['late', 'res.end'],
    client: { status: 200, body: 'hello\n' },
  },
  {
    fixture: 'double-end.js',
    kind: 'double-end',
    type: 'WriteStream',
    method: 'end',
    cause: 'double-end',
    end: ['end', 'out.end'],
    late: ['late', 'out.end'],
  },
  {
    fixture: 'headers-after-sent.js',
    kind: 'headers-after-sent',
    type: 'ServerResponse',
    method: 'setHeader',
    cause: 'headers-already-sent',
    end: ['end', 'res.writeHead'],
    late: ['late', 'res.setHeader'],
    client: { status: 200, body: 'partial' },
  },
  {
    fixture: 'http2-compat.js',
    kind: 'write-after-end',
    type: 'Http2ServerResponse',
    method: 'end',
    cause: 'double-send',
    end: ['end', 'res.end'],
    late: ['late', 'res.end'],
  },
  ...(['destroy', 'close'] as const).map((call) => ({
    fixture: 'http2-stream-destroy.js',
    args: [call],
    kind: 'write-after-destroy',
    type: 'Http2ServerResponse',
    method: 'write',
    endMethod: call,
    cause: 'destroyed',
    code: 'ERR_HTTP2_INVALID_STREAM',
    end: [`end-${call}`, `res.stream.${call}`] as [string, string],
    late: ['late', 'res.write'] as [string, string],
    client: { body: 'event 1\n' },
  })),
  {
    fixture: 'http2-stream-destroy.js',
    args: ['close-now'],
    kind: 'write-after-end',
    type: 'ServerHttp2Stream',
    method: 'write',
    endMethod: 'end',
    cause: 'missing-return',
    code: 'ERR_STREAM_WRITE_AFTER_END',
    end: ['end-close-now', 'res.stream.close'],
    late: ['late', 'res.write'],
    client: { body: 'event 1\n' },
  },
  {
    fixture: 'http2-headers.js',
    kind: 'headers-after-sent',
    type: 'Http2ServerResponse',
    method: 'setHeader',
    cause: 'headers-already-sent',
    code: 'ERR_HTTP2_HEADERS_SENT',
    end: ['end', 'res.end'],
    late: ['late', 'res.setHeader'],
    client: { body: 'done' },
  },
  {
    fixture: 'client-request.js',
    kind: 'write-after-end',
    type: 'ClientRequest',
    method: 'write',
    cause: 'missing-return',
    end: ['end', 'req.end'],
    late: ['late', 'req.write'],
  },
];

function check(c: Case, preload: Preload) {
  return async () => {
    const run = await runFixture(c.fixture, preload, { args: c.args });
    const reports = run.reports;
    expect(reports, run.stderr).toHaveLength(1 + (c.also?.length ?? 0));
    const r = reports[0]!;
    (c.also ?? []).forEach((more, i) => {
      expect(reports[i + 1]).toMatchObject({ kind: c.kind, cause: c.cause, endSite: r.endSite, lateSite: markedSite(c.fixture, ...more.lateSite) });
    });
    expect(r.endguard).toBe(1);
    expect(r.kind).toBe(c.kind);
    expect(r.type).toBe(c.type);
    expect(r.method).toBe(c.method);
    expect(r.cause).toBe(c.cause);
    expect(r.mode).toBe('observe');
    expect(r.capture).toBe('always');
    expect(r.count).toBe(1);
    if (c.end === null) {
      expect(r.endSite).toBeNull();
      expect(r.endSiteNote).toMatch(/client closed the connection/);
    } else {
      expect(r.endSite).toBe(markedSite(c.fixture, c.end[0], c.end[1]));
      expect(r.endStack).toMatch(/\n {4}at /);
    }
    if (c.late === null) {
      expect(r.lateSite).toMatch(/node_modules[/\\]http-proxy(-middleware)?[/\\]/);
    } else {
      expect(r.lateSite).toBe(markedSite(c.fixture, c.late[0], c.late[1]));
    }
    expect(r.lateStack).toMatch(r.code === null ? /^Error: / : new RegExp(`^Error \\[${r.code}\\]`));
    // endguard's own frames are in neither stack (a wrapper further down: the app's write that reached this stream through a pipe)
    for (const stack of [r.endStack, r.lateStack]) expect(stack ?? '').not.toMatch(/[/\\]endguard[/\\]|[/\\]dist[/\\](lazy-)?bundle\.js/);
    if (c.hint) expect(r.hint).toMatch(c.hint);
    if (c.code !== undefined) expect(r.code).toBe(c.code);
    if (c.endMethod) expect(r.endMethod).toBe(c.endMethod);
    expect(r.hint.length).toBeGreaterThan(10);
    if (c.cause === 'client-disconnect') {
      expect(Date.parse(r.closedAt)).toBeGreaterThan(0);
      expect(r.closedAgoMs).toBeGreaterThanOrEqual(0);
    }
    if (c.client !== undefined) expect(run.out.find((o) => 'client' in o)?.client).toEqual(c.client);
    // observe mode: the same exit code and client output as without the agent
    const bare = await runFixture(c.fixture, 'none', { args: c.args });
    expect(run.code).toBe(bare.code);
    expect(run.out).toEqual(bare.out);
    if (c.exit !== undefined) expect(run.code).toBe(c.exit);
  };
}

describe('each seed cause reports the kind, both sites and the cause', () => {
  for (const c of cases) {
    it(`${c.fixture} ${c.args?.join(' ') ?? ''} (--require)`, check(c, 'require'));
  }
  for (const c of cases.filter((c) => /missing-return|pipe-ended|pipeline-promises|sse-cancel|proxy/.test(c.fixture))) {
    it(`${c.fixture} ${c.args?.join(' ') ?? ''} (--import)`, check(c, 'import'));
  }
});

describe('double-end: the code is the error the second end() gets, which depends on when it comes', () => {
  const file = 'double-end-codes.js';
  const ENDS = ['early', 'destroyed', 'finished', 'res-early', 'res-finished'];
  for (const lib of ['node:stream', 'readable-stream']) {
    it(`${lib}: none before 'finish', ERR_STREAM_DESTROYED after a destroy(), ERR_STREAM_ALREADY_FINISHED after 'finish'`, async () => {
      const [bare, run] = await Promise.all([runFixture(file, 'none', { args: [lib] }), runFixture(file, 'require', { args: [lib] })]);
      // a same-tick second end of a response finds it finished when the socket took the body at once
      const { 'res-early': resEarly, ...settled } = bare.out[0]!;
      expect(settled).toEqual({ early: null, destroyed: 'ERR_STREAM_DESTROYED', finished: 'ERR_STREAM_ALREADY_FINISHED', 'res-finished': 'ERR_STREAM_ALREADY_FINISHED' });
      expect([null, 'ERR_STREAM_ALREADY_FINISHED']).toContain(resEarly);
      const { 'res-early': _, ...settledRun } = run.out[0]!;
      expect(settledRun).toEqual(settled);
      const byLate = new Map(run.reports.map((r) => [r.lateSite, r]));
      for (const name of ENDS) {
        const receiver = name.startsWith('res') ? 'res' : name;
        const report = byLate.get(markedSite(file, `late-${name}`, `${receiver}.end`));
        expect(report, name).toMatchObject({ kind: 'double-end', cause: 'double-end', endSite: markedSite(file, `end-${name}`, `${receiver}.end`), code: run.out[0]![name] });
      }
      expect(run.reports).toHaveLength(ENDS.length);
    });
  }
});

describe('ES module app', () => {
  it('reports both sites of an .mjs app loaded with --import', async () => {
    const run = await runFixture('esm-missing-return.mjs', 'import');
    expect(run.reports).toHaveLength(1);
    const r = run.reports[0]!;
    expect(r.kind).toBe('write-after-end');
    expect(r.endSite).toBe(markedSite('esm-missing-return.mjs', 'end', 'res.end'));
    expect(r.lateSite).toBe(markedSite('esm-missing-return.mjs', 'late', 'res.end'));
    expect(r.cause).toBe('missing-return');
    expect(run.out[0]).toEqual({ client: { status: 200, body: 'cached' } });
  });
});

describe('HTTP/2 compat: a write to a response whose stream closed is left to Node under enforce', () => {
  for (const call of ['destroy', 'close']) {
    it(`after res.stream.${call}(): the callback gets Node's ERR_HTTP2_INVALID_STREAM, as without the agent`, async () => {
      const file = 'http2-stream-destroy.js';
      const [bare, run] = await Promise.all([runFixture(file, 'none', { args: [call] }), runFixture(file, 'require', { args: [call], env: { ENDGUARD_MODE: 'enforce' } })]);
      expect(bare.out).toEqual([{ client: { body: 'event 1\n' }, lateReturned: false, callbackError: 'ERR_HTTP2_INVALID_STREAM' }]);
      expect(run.out).toEqual(bare.out);
      expect(run.reports).toHaveLength(1);
      expect(run.reports[0]).toMatchObject({ mode: 'enforce', kind: 'write-after-destroy', code: 'ERR_HTTP2_INVALID_STREAM' });
    });
  }
});

describe('armed capture: what a first report knows without its end site', () => {
  it("the app's own res.destroy() is destroyed, not a client disconnect", async () => {
    const file = 'destroy-then-write.js';
    const [always, armed] = await Promise.all([runFixture(file, 'require'), runFixture(file, 'require', { env: { ENDGUARD_CAPTURE: 'armed' } })]);
    expect(always.reports).toHaveLength(1);
    expect(always.reports[0]).toMatchObject({ kind: 'write-after-destroy', endMethod: 'destroy', endSite: markedSite(file, 'end', 'res.destroy'), cause: 'destroyed' });
    expect(armed.reports).toHaveLength(1);
    expect(armed.reports[0]).toMatchObject({ kind: 'write-after-destroy', endMethod: 'destroy', endSite: null, lateSite: markedSite(file, 'late', 'res.write'), cause: 'destroyed', capture: 'armed' });
    expect(armed.reports[0]!.endSiteNote).toMatch(/^armed capture/);
  });

  it('a pub-sub listener called by another request is late-subscriber from the first report', async () => {
    const file = 'pubsub-keepalive.js';
    const run = await runFixture(file, 'require', { env: { ENDGUARD_CAPTURE: 'armed' } });
    expect(run.reports).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({ endSite: null, lateSite: markedSite(file, 'late', 'res.write'), cause: 'late-subscriber', capture: 'armed' });
  });
});

describe('client-disconnect under armed capture: no close was recorded', () => {
  it('the report names the cause and leaves out when the connection closed (not the time of the late call)', async () => {
    const run = await runFixture('sse-client-disconnect.js', 'require', { env: { ENDGUARD_CAPTURE: 'armed' } });
    expect(run.reports).toHaveLength(1);
    const r = run.reports[0]!;
    expect(r).toMatchObject({ kind: 'write-after-destroy', cause: 'client-disconnect', capture: 'armed', endSite: null });
    expect(r).not.toHaveProperty('closedAt');
    expect(r).not.toHaveProperty('closedAgoMs');
  });
});

describe('HTTP/2: the client cancels its stream, the server writes once more', () => {
  for (const api of ['compat', 'core']) {
    it(`${api}: client-disconnect with when it closed, not a late callback after Node's own close`, async () => {
      const file = 'http2-client-reset.js';
      const [bare, run] = await Promise.all([runFixture(file, 'none', { args: [api] }), runFixture(file, 'require', { args: [api] })]);
      expect(run.out).toEqual(bare.out);
      expect(run.out).toEqual([{ client: 'cancelled after the first event', lateReturned: false }]);
      expect(run.reports).toHaveLength(1);
      const r = run.reports[0]!;
      expect(r).toMatchObject({
        // as Node decides: the compat response was never ended and answers its closed stream with
        // ERR_HTTP2_INVALID_STREAM; Node ended the core stream (closeStream) before destroying it
        kind: api === 'compat' ? 'write-after-destroy' : 'write-after-end',
        type: api === 'compat' ? 'Http2ServerResponse' : 'ServerHttp2Stream',
        code: api === 'compat' ? 'ERR_HTTP2_INVALID_STREAM' : 'ERR_STREAM_WRITE_AFTER_END',
        method: 'write',
        endMethod: null,
        endSite: null,
        lateSite: markedSite(file, `late-${api}`, api === 'compat' ? 'res.write' : 'stream.write'),
        cause: 'client-disconnect',
      });
      expect(r.closedAgoMs).toBeGreaterThanOrEqual(0);
    });
  }
});
