import { describe, expect, it } from 'vitest';
import { markedSite, runFixture, type Preload, type RunResult } from '../support/run';

// Fastify 4 and 5, Koa 2 and 3 (devDependencies fastify, fastify4, koa, koa2): real servers on
// 127.0.0.1:0; argv[2] of a fixture names the copy it requires.

const FASTIFY = ['fastify', 'fastify4'] as const;
const KOA = ['koa', 'koa2'] as const;
const WRAP_THENABLE = /[/\\]node_modules[/\\]fastify4?[/\\]lib[/\\]wrap-?thenable\.js:\d+:\d+$/i;

interface Case {
  fixture: string;
  /** argv after the framework's name */
  args?: string[];
  kind: string;
  type: string;
  code: string | null;
  method: string;
  endMethod: string;
  cause: string;
  /** [marker, call text] of the expected site (markedSite), or a pattern for a site inside the framework */
  end: [string, string] | RegExp;
  late: [string, string] | RegExp;
  hint: RegExp;
  /** what the fixture prints (client response, Fastify's own log): the same with and without the agent */
  out: unknown[];
}

const site = (fixture: string, [marker, call]: [string, string]) => markedSite(`frameworks/${fixture}`, marker, call);

function expectReport(run: RunResult, c: Case, mode = 'observe') {
  expect(run.reports, run.stderr).toHaveLength(1);
  const r = run.reports[0]!;
  expect(r).toMatchObject({ endguard: 1, kind: c.kind, type: c.type, code: c.code, method: c.method, endMethod: c.endMethod, cause: c.cause });
  expect(r).toMatchObject({ mode, capture: 'always', count: 1 });
  if (c.end instanceof RegExp) expect(r.endSite).toMatch(c.end);
  else expect(r.endSite).toBe(site(c.fixture, c.end));
  if (c.late instanceof RegExp) expect(r.lateSite).toMatch(c.late);
  else expect(r.lateSite).toBe(site(c.fixture, c.late));
  expect(r.hint).toMatch(c.hint);
  expect(r.endStack).toMatch(new RegExp(`^Error: ${c.kind === 'headers-after-sent' ? 'headers sent' : `${c.endMethod}\\(\\)`} here\\n {4}at `));
  expect(r.lateStack.split('\n')[0]).toMatch(c.code === null ? /^Error: / : new RegExp(`^Error \\[${c.code}\\]: `));
  return r;
}

function observe(c: Case, name: string, preload: Preload = 'require') {
  return async () => {
    const args = [name, ...(c.args ?? [])];
    const run = await runFixture(`frameworks/${c.fixture}`, preload, { args });
    expectReport(run, c);
    expect(run.out).toEqual(c.out);
    // observe: the framework behaves exactly as without the agent
    const bare = await runFixture(`frameworks/${c.fixture}`, 'none', { args });
    expect(bare.out).toEqual(run.out);
    expect(run.code).toBe(bare.code);
    expect(run.code).toBe(0);
  };
}

const fastifyCases = (name: string): Case[] => [
  {
    fixture: 'fastify-missing-return.js',
    kind: 'write-after-end',
    type: 'Reply',
    code: 'FST_ERR_REP_ALREADY_SENT',
    method: 'send',
    endMethod: 'send',
    cause: 'missing-return',
    end: ['end', 'reply.code(400).send'],
    late: ['late', 'reply.send'],
    hint: /^return reply\.send\(\.\.\.\): the handler went on and sent again \(or check reply\.sent before reply\.send\(\.\.\.\)\)$/,
    out: [{ client: { status: 400, body: '{"error":"id required"}' } }, { fastifyLogs: ['FST_ERR_REP_ALREADY_SENT'] }],
  },
  {
    fixture: 'fastify-async-return.js',
    kind: 'write-after-end',
    type: 'Reply',
    code: 'FST_ERR_REP_ALREADY_SENT',
    method: 'send',
    endMethod: 'send',
    cause: 'missing-return',
    end: ['end', 'reply.send'],
    // Fastify sends the returned value itself: no frame of the app is on that stack
    late: WRAP_THENABLE,
    hint: /^Fastify sent again when the handler returned \(or threw\) after reply\.send\(\.\.\.\): an async handler that calls reply\.send\(\.\.\.\) must return reply/,
    out: [{ client: { status: 200, body: '{"items":[1,2]}' } }, { fastifyLogs: ['FST_ERR_REP_ALREADY_SENT'] }],
  },
  {
    fixture: 'fastify-late-callback.js',
    kind: 'write-after-end',
    type: 'Reply',
    code: 'FST_ERR_REP_ALREADY_SENT',
    method: 'send',
    endMethod: 'send',
    cause: 'late-callback',
    end: ['end', 'reply.code(504).send'],
    late: ['late', 'reply.send'],
    hint: /^a callback called reply\.send\(\.\.\.\) after reply\.send\(\.\.\.\) had sent the reply: check reply\.sent before it/,
    out: [{ client: { status: 504, body: 'timeout' } }, { fastifyLogs: ['FST_ERR_REP_ALREADY_SENT'] }],
  },
  {
    fixture: 'fastify-redirect.js',
    kind: 'write-after-end',
    type: 'Reply',
    code: 'FST_ERR_REP_ALREADY_SENT',
    method: 'redirect',
    endMethod: 'send',
    cause: 'double-send',
    end: ['end', 'reply.send'],
    late: ['late', 'reply.redirect'],
    hint: /^send one reply per request: remove or guard the second reply\.redirect\(\.\.\.\) \(check reply\.sent\)$/,
    out: [{ client: { status: 200, body: 'welcome back' } }, { fastifyLogs: ['FST_ERR_REP_ALREADY_SENT'] }],
  },
  {
    fixture: 'fastify-async-double-send.js',
    kind: 'write-after-end',
    type: 'Reply',
    code: 'FST_ERR_REP_ALREADY_SENT',
    method: 'send',
    endMethod: 'send',
    cause: 'double-send',
    end: ['end', 'reply.send'],
    late: ['late', 'reply.send'],
    hint: /^send one reply per request/,
    out: [{ client: { status: 200, body: '{"cart":"cached"}' } }, { fastifyLogs: ['FST_ERR_REP_ALREADY_SENT'] }],
  },
  {
    // the first send is still in the async onSend hook: Fastify's reply.sent is false
    fixture: 'fastify-second-send-in-flight.js',
    kind: 'write-after-end',
    type: 'Reply',
    code: 'FST_ERR_REP_ALREADY_SENT',
    method: 'send',
    endMethod: 'send',
    cause: 'double-send',
    end: ['end', 'reply.code(201).send'],
    late: ['late', 'reply.send'],
    hint: /^send one reply per request/,
    out: [
      { client: { status: 201, body: '{"created":true}' } },
      // Fastify 5 logs the failed writeHead; Fastify 4 leaves it to an unhandled rejection
      name === 'fastify'
        ? { fastifyLogs: ['Reply was already sent, did you forget to "return reply"', 'ERR_HTTP_HEADERS_SENT', 'FST_ERR_REP_ALREADY_SENT'] }
        : { fastifyLogs: ['Reply was already sent, did you forget to "return reply"'] },
      { unhandled: name === 'fastify' ? [] : ['ERR_HTTP_HEADERS_SENT'] },
    ],
  },
  {
    // the handler's returned value was the first send: Fastify's own, and the hint says so
    fixture: 'fastify-returned-then-late.js',
    kind: 'write-after-end',
    type: 'Reply',
    code: 'FST_ERR_REP_ALREADY_SENT',
    method: 'send',
    endMethod: 'send',
    cause: 'late-callback',
    end: WRAP_THENABLE,
    late: ['late', 'reply.send'],
    hint: /^a callback called reply\.send\(\.\.\.\) after Fastify's own send \(of the handler's return value or error\) had sent the reply: check reply\.sent/,
    out: [{ client: { status: 200, body: '{"items":[1,2]}' } }, { fastifyLogs: ['FST_ERR_REP_ALREADY_SENT'] }],
  },
  // a handler failed: Fastify's own send(err) calls the app's error handler, whose send is the end site
  ...(['sync', 'async', 'async-handler'] as const).map(
    (variant): Case => ({
      fixture: 'fastify-error-handler.js',
      args: [variant],
      kind: 'write-after-end',
      type: 'Reply',
      code: 'FST_ERR_REP_ALREADY_SENT',
      method: 'send',
      endMethod: 'send',
      cause: 'late-callback',
      end: [variant === 'async-handler' ? 'end-after-await' : 'end', 'reply.code(500).send'],
      late: ['late', 'reply.send'],
      hint: /^a callback called reply\.send\(\.\.\.\) after reply\.send\(\.\.\.\) had sent the reply/,
      out: [{ client: { status: 500, body: '{"error":"db down"}' } }, { fastifyLogs: ['FST_ERR_REP_ALREADY_SENT'] }],
    }),
  ),
  {
    // reply.raw after the reply was sent: Node's own late write, the end site is the app's reply.send
    fixture: 'fastify-raw-write.js',
    kind: 'write-after-end',
    type: 'ServerResponse',
    code: 'ERR_STREAM_WRITE_AFTER_END',
    method: 'write',
    endMethod: 'send',
    cause: 'late-callback',
    end: ['end', 'reply.send'],
    late: ['late', 'reply.raw.write'],
    hint: /^a callback responded after reply\.send\(\.\.\.\): check reply\.raw\.writableEnded before reply\.raw\.write\(\.\.\.\)/,
    // Node drops this write silently (the response's socket is gone): no 'error' event
    out: [{ client: { status: 200, body: 'event: done\n\n' } }, { fastifyLogs: [] }, { rawErrors: [] }],
  },
];

const KOA_LATE = /^ctx\.body = \.\.\. ran after the response was sent \(ctx\.body = \.\.\.; Koa answers once the middleware chain resolves\), and Koa ignores it: await this work, and `await next\(\)` in every middleware above it, or check ctx\.headerSent first$/;

const koaBody = (fixture: string, body: string, status = 200): Case => ({
  fixture,
  kind: 'write-after-end',
  type: 'Context',
  code: null,
  method: 'body',
  endMethod: 'body',
  cause: 'late-callback',
  end: ['end', '='],
  late: ['late', '='],
  hint: KOA_LATE,
  out: [{ client: { status, body } }],
});

const koaHeader = (method: string, call: string): Case => ({
  fixture: 'koa-late-header.js',
  args: [method],
  kind: 'headers-after-sent',
  type: 'Context',
  code: null,
  method,
  endMethod: 'body',
  cause: 'late-callback',
  end: ['end', '='],
  late: [`late-${method}`, call],
  hint: new RegExp(`^ctx\\.${method}${call.startsWith('=') ? ' = \\.\\.\\.' : '\\(\\.\\.\\.\\)'} ran after the response was sent .* or check ctx\\.headerSent first$`),
  out: [{ client: { status: 200, body: 'hello' } }],
});

const koaCases: Case[] = [
  koaBody('koa-late-callback.js', '{"job":"queued"}', 202),
  koaBody('koa-unawaited-next.js', '{"user":null}'),
  koaHeader('status', '= 500'),
  koaHeader('set', 'ctx.set'),
  koaHeader('type', "= 'json'"),
  koaHeader('redirect', 'ctx.redirect'),
  koaHeader('remove', 'ctx.remove'),
  koaHeader('vary', 'ctx.vary'),
  {
    // `ctx.status =` alone answers (Koa sends the status message): it is the hand-off
    fixture: 'koa-status-handoff.js',
    args: ['status'],
    kind: 'write-after-end',
    type: 'Context',
    code: null,
    method: 'body',
    endMethod: 'status',
    cause: 'late-callback',
    end: ['end', '='],
    late: ['late', '='],
    hint: /^ctx\.body = \.\.\. ran after the response was sent \(ctx\.status = \.\.\.; Koa answers once the middleware chain resolves\)/,
    out: [{ client: { status: 201, body: 'Created' } }],
  },
  {
    // no body in time: Koa's own 404 is the end, and the late setter ran outside the chain
    fixture: 'koa-status-handoff.js',
    args: ['no-body'],
    kind: 'headers-after-sent',
    type: 'Context',
    code: null,
    method: 'status',
    endMethod: 'end',
    cause: 'late-callback',
    end: /[/\\]node_modules[/\\]koa2?[/\\]lib[/\\]application\.js:\d+:\d+$/,
    late: ['late-no-body', '='],
    hint: /^ctx\.status = \.\.\. ran after the response was sent \(Koa's response; Koa answers once the middleware chain resolves\)/,
    out: [{ client: { status: 404, body: 'Not Found' } }],
  },
  {
    // ctx.respond = false after ctx.body =: the app's own res.end() ended it, not Koa
    fixture: 'koa-bypass.js',
    kind: 'headers-after-sent',
    type: 'Context',
    code: null,
    method: 'set',
    endMethod: 'end',
    cause: 'headers-already-sent',
    end: ['end', 'res.end'],
    late: ['late', 'ctx.set'],
    hint: /^res\.end\(\.\.\.\) already sent the headers, so Koa ignores ctx\.set\(\.\.\.\): set it before, or check ctx\.headerSent$/,
    out: [{ client: { status: 200, body: 'lol' } }],
  },
];

describe('Fastify: a send on a reply already sent', () => {
  for (const name of FASTIFY) {
    for (const c of fastifyCases(name)) it(`${name}: ${c.fixture} ${c.args?.join(' ') ?? ''} (--require)`, observe(c, name));
    const [first] = fastifyCases(name);
    it(`${name}: ${first!.fixture} (--import)`, observe(first!, name, 'import'));
  }
});

describe('Koa: a setter after Koa responded', () => {
  for (const name of KOA) {
    for (const c of koaCases) it(`${name}: ${c.fixture} ${c.args?.join(' ') ?? ''} (--require)`, observe(c, name));
    it(`${name}: koa-late-callback.js (--import)`, observe(koaCases[0]!, name, 'import'));
  }
});

describe('ES module apps that import the framework', () => {
  const esm: [string, Case][] = [
    ['fastify', { ...fastifyCases('fastify')[0]!, fixture: 'fastify-esm.mjs' }],
    ['fastify4', { ...fastifyCases('fastify4')[0]!, fixture: 'fastify4-esm.mjs' }],
    ['koa', koaBody('koa-esm.mjs', '{"job":"queued"}')],
    ['koa2', koaBody('koa2-esm.mjs', '{"job":"queued"}')],
  ];
  for (const [name, c] of esm) {
    for (const preload of ['import', 'require'] as const) it(`${c.fixture} (--${preload})`, observe(c, name, preload));
  }
});

describe('enforce', () => {
  for (const name of FASTIFY) {
    it(`${name}: drops the late send before Fastify sees it: the first reply intact, no FST_ERR_REP_ALREADY_SENT warning`, async () => {
      const c = fastifyCases(name)[0]!;
      const run = await runFixture(`frameworks/${c.fixture}`, 'require', { args: [name], env: { ENDGUARD_MODE: 'enforce' } });
      expectReport(run, c, 'enforce');
      expect(run.out).toEqual([{ client: { status: 400, body: '{"error":"id required"}' } }, { fastifyLogs: [] }]);
      expect(run.code).toBe(0);
    });

    it(`${name}: a second send still in flight is dropped: no failed writeHead, no unhandled rejection`, async () => {
      const c = fastifyCases(name).find((x) => x.fixture === 'fastify-second-send-in-flight.js')!;
      const run = await runFixture(`frameworks/${c.fixture}`, 'require', { args: [name], env: { ENDGUARD_MODE: 'enforce' } });
      expectReport(run, c, 'enforce');
      expect(run.out).toEqual([{ client: { status: 201, body: '{"created":true}' } }, { fastifyLogs: [] }, { unhandled: [] }]);
    });

    it(`${name}: a late write to reply.raw is dropped`, async () => {
      const c = fastifyCases(name).find((x) => x.fixture === 'fastify-raw-write.js')!;
      const run = await runFixture(`frameworks/${c.fixture}`, 'require', { args: [name], env: { ENDGUARD_MODE: 'enforce' } });
      expectReport(run, c, 'enforce');
      expect(run.out).toEqual([{ client: { status: 200, body: 'event: done\n\n' } }, { fastifyLogs: [] }, { rawErrors: [] }]);
    });
  }

  for (const name of KOA) {
    it(`${name}: keeps Koa's own silent drop, and reports`, async () => {
      const c = koaCases[0]!;
      const run = await runFixture(`frameworks/${c.fixture}`, 'require', { args: [name], env: { ENDGUARD_MODE: 'enforce' } });
      expectReport(run, c, 'enforce');
      expect(run.out).toEqual(c.out);
      expect(run.code).toBe(0);
    });
  }
});

describe('Fastify: the client went away before the reply was sent', () => {
  const file = 'frameworks/fastify-client-disconnect.js';
  for (const name of FASTIFY) {
    it(`${name}: client-disconnect on the raw response, no end method, a hint that names reply.raw (a Reply has no on() or destroyed)`, async () => {
      const [bare, run] = await Promise.all([runFixture(file, 'none', { args: [name] }), runFixture(file, 'require', { args: [name] })]);
      expect(run.out).toEqual(bare.out);
      expect(run.reports, run.stderr).toHaveLength(1);
      expect(run.reports[0]).toMatchObject({
        kind: 'write-after-destroy',
        type: 'ServerResponse',
        code: 'ERR_STREAM_DESTROYED',
        endMethod: null,
        endSite: null,
        lateSite: markedSite(file, 'late', 'reply.send'),
        cause: 'client-disconnect',
        hint: "the client disconnected before reply.send(...): stop on reply.raw.on('close', ...) or check reply.raw.destroyed before writing",
      });
    });
  }
});

describe('Koa: ctx.body = while Koa still pipes the stream body it was handed', () => {
  const file = 'frameworks/koa-late-body-stream.js';
  for (const name of KOA) {
    it(`${name}: reported though the response has not ended (Koa answered: nothing set now is sent); observe changes nothing`, async () => {
      const [bare, run] = await Promise.all([runFixture(file, 'none', { args: [name] }), runFixture(file, 'require', { args: [name] })]);
      expect(run.out).toEqual(bare.out);
      // Koa 3's setter destroys the stream it replaces: the client is cut off, with or without endguard
      expect(run.out[0]).toEqual({ client: name === 'koa' ? { status: 200, body: 'part1;', error: 'aborted' } : { status: 200, body: 'part1;part2;' } });
      expect(run.reports[0]).toMatchObject({
        kind: 'write-after-end',
        type: 'Context',
        code: null,
        method: 'body',
        endMethod: 'body',
        endSite: markedSite(file, 'end', '='),
        lateSite: markedSite(file, 'late', '='),
        cause: 'late-callback',
      });
      expect(run.reports[0]!.hint).toMatch(/or check ctx\.headerSent first$/);
    });

    it(`${name}: enforce drops the late setter: the stream body reaches the client whole`, async () => {
      const run = await runFixture(file, 'require', { args: [name], env: { ENDGUARD_MODE: 'enforce' } });
      expect(run.out[0]).toEqual({ client: { status: 200, body: 'part1;part2;' } });
      expect(run.reports).toHaveLength(1);
      expect(run.reports[0]).toMatchObject({ mode: 'enforce', method: 'body', lateSite: markedSite(file, 'late', '=') });
    });
  }
});

describe('Koa: ctx.flushHeaders() sent the headers', () => {
  for (const name of KOA) {
    it(`${name}: a later ctx.set() names the app's ctx.flushHeaders(), below Koa's and Node's frames`, async () => {
      const file = 'frameworks/koa-flush-headers.js';
      const [bare, run] = await Promise.all([runFixture(file, 'none', { args: [name] }), runFixture(file, 'require', { args: [name] })]);
      expect(run.out).toEqual(bare.out);
      expect(run.reports).toHaveLength(1);
      expect(run.reports[0]).toMatchObject({
        kind: 'headers-after-sent',
        type: 'Context',
        method: 'set',
        endMethod: 'flushHeaders',
        endSite: markedSite(file, 'end', 'ctx.flushHeaders'),
        lateSite: markedSite(file, 'late', 'ctx.set'),
        cause: 'headers-already-sent',
      });
    });
  }
});

describe('strict', () => {
  const strictMessage = (endSite: string, call: string, kind = 'write-after-end') =>
    `Error: endguard: ${call} after ${kind === 'write-after-end' ? 'the stream was ended' : 'the headers were sent'} (${kind}; ${kind === 'write-after-end' ? 'ended' : 'headers sent'} at ${endSite}`;

  for (const name of FASTIFY) {
    it(`${name}: throws at the late reply.send() in a handler; Fastify would swallow it, so it surfaces as an uncaught error naming the end site`, async () => {
      const c = fastifyCases(name)[0]!;
      const run = await runFixture(`frameworks/${c.fixture}`, 'require', { args: [name], env: { ENDGUARD_MODE: 'strict' } });
      const r = expectReport(run, c, 'strict');
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`${strictMessage(r.endSite, 'reply.send()')})\n    at `);
      expect(run.stderr).toContain(`(${r.lateSite})`);
      expect(run.stderr).toContain("code: 'ERR_ENDGUARD_WRITE_AFTER_END'");
    });

    it(`${name}: in an async handler too (the rejection Fastify only logs)`, async () => {
      const c = fastifyCases(name).find((x) => x.fixture === 'fastify-async-double-send.js')!;
      const run = await runFixture(`frameworks/${c.fixture}`, 'require', { args: [name], env: { ENDGUARD_MODE: 'strict' } });
      const r = expectReport(run, c, 'strict');
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`${strictMessage(r.endSite, 'reply.send()')})`);
      expect(run.stderr.match(/ERR_ENDGUARD_WRITE_AFTER_END/g)).toHaveLength(1);
    });

    for (const [route, call] of [['sync', 'end'], ['async', 'write']] as const) {
      it(`${name}: a late reply.raw.${call}() in a ${route} handler fails the run with its own error, reported once (not as a second send by Fastify)`, async () => {
        const file = 'frameworks/fastify-strict-raw.js';
        const run = await runFixture(file, 'require', { args: [name, route], env: { ENDGUARD_MODE: 'strict' } });
        expect(run.reports).toHaveLength(1);
        const endSite = markedSite(file, `end-${route}`, 'reply.send');
        expect(run.reports[0]).toMatchObject({ type: 'ServerResponse', method: call, endMethod: 'send', endSite, lateSite: markedSite(file, `late-${route}`, `reply.raw.${call}`) });
        expect(run.code).toBe(1);
        expect(run.stderr).toContain(`${strictMessage(endSite, `${call}()`)})`);
        expect(run.stderr.match(/code: 'ERR_ENDGUARD_WRITE_AFTER_END'/g)).toHaveLength(1);
      });
    }

    it(`${name}: a late send Fastify makes for the handler (its return value) is raised on the next tick, naming Fastify's frame`, async () => {
      const c = fastifyCases(name).find((x) => x.fixture === 'fastify-async-return.js')!;
      const run = await runFixture(`frameworks/${c.fixture}`, 'require', { args: [name], env: { ENDGUARD_MODE: 'strict' } });
      const r = expectReport(run, c, 'strict');
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`${strictMessage(r.endSite, 'reply.send()')}; the late call was made by a dependency at ${r.lateSite}, with no frame of your code below it)`);
    });
  }

  for (const name of KOA) {
    it(`${name}: throws at the late ctx.body = naming the end site`, async () => {
      const c = koaCases[0]!;
      const run = await runFixture(`frameworks/${c.fixture}`, 'require', { args: [name], env: { ENDGUARD_MODE: 'strict' } });
      const r = expectReport(run, c, 'strict');
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`${strictMessage(r.endSite, 'set ctx.body')})\n    at `);
      expect(run.stderr).toContain(`(${r.lateSite})`);
    });

    it(`${name}: throws at a late ctx.set() naming the header flush`, async () => {
      const c = koaHeader('set', 'ctx.set');
      const run = await runFixture(`frameworks/${c.fixture}`, 'require', { args: [name, 'set'], env: { ENDGUARD_MODE: 'strict' } });
      const r = expectReport(run, c, 'strict');
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`${strictMessage(r.endSite, 'ctx.set()', 'headers-after-sent')})`);
      expect(run.stderr).toContain("code: 'ERR_ENDGUARD_HEADERS_AFTER_SENT'");
    });
  }
});

describe('capture=armed', () => {
  for (const name of FASTIFY) {
    it(`${name}: the first report has the late site and arms the route; the next one has the user's reply.send as end site`, async () => {
      const c = fastifyCases(name)[0]!;
      const run = await runFixture(`frameworks/${c.fixture}`, 'require', { args: [name, '2'], env: { ENDGUARD_CAPTURE: 'armed' } });
      expect(run.reports).toHaveLength(2);
      const [first, second] = run.reports;
      expect(first).toMatchObject({ kind: 'write-after-end', type: 'Reply', capture: 'armed', endSite: null, lateSite: site(c.fixture, c.late as [string, string]) });
      expect(first!.endSiteNote).toMatch(/^armed capture/);
      expect(second).toMatchObject({ endSite: site(c.fixture, c.end as [string, string]), lateSite: site(c.fixture, c.late as [string, string]), cause: 'missing-return' });
    });
  }
});

describe('trust', () => {
  for (const [name, fixture] of [...FASTIFY.map((n) => [n, 'fastify-clean-load.js']), ...KOA.map((n) => [n, 'koa-clean-load.js'])] as const) {
    it(`${name}: a correct app under load (360 requests, every way of answering) produces zero reports and the same output`, async () => {
      const run = await runFixture(`frameworks/${fixture}`, 'require', { args: [name], timeoutMs: 60_000 });
      expect(run.stderr).toBe('');
      expect(run.reports).toHaveLength(0);
      const bare = await runFixture(`frameworks/${fixture}`, 'none', { args: [name], timeoutMs: 60_000 });
      expect(run.out).toEqual(bare.out);
      expect(run.code).toBe(0);
      const counts = Object.values(run.out[0]!.statuses as Record<string, number>).reduce((a, b) => a + b, 0);
      expect(counts).toBeGreaterThanOrEqual(360);
    }, 90_000);
  }

  it('several copies in one process (Fastify 5 and 4, Koa 3 and 2): each copy reports its own late call', async () => {
    const run = await runFixture('frameworks/several-copies.js', 'require');
    expect(run.out.at(-1)).toEqual({
      published: [
        { copy: 'fastify 5', kind: 'write-after-end', method: 'send' },
        { copy: 'fastify 4', kind: 'write-after-end', method: 'send' },
        { copy: 'koa koa', kind: 'headers-after-sent', method: 'set' },
        { copy: 'koa koa2', kind: 'headers-after-sent', method: 'set' },
      ],
    });
    // the log prints each (endSite, lateSite, kind) once
    expect(run.reports.map((r) => [r.type, r.endSite, r.lateSite])).toEqual([
      ['Reply', markedSite('frameworks/several-copies.js', 'end-fastify', 'reply.send'), markedSite('frameworks/several-copies.js', 'late-fastify', 'reply.send')],
      ['Context', markedSite('frameworks/several-copies.js', 'end-koa', '='), markedSite('frameworks/several-copies.js', 'late-koa', 'ctx.set')],
    ]);
  });

  it('an app that uses no framework loads none', async () => {
    const run = await runFixture('frameworks/frameworks-not-loaded.js', 'require');
    expect(run.out).toEqual([{ client: { status: 200, body: 'plain' } }, { frameworks: [] }]);
    expect(run.stderr).toBe('');
  });
});
