// Methods Node or middleware swap on an instance, where a prototype wrapper never sees the call:
// net.Socket#write after the peer's FIN (writeAfterFIN), compression's res.write/res.end,
// on-headers' res.writeHead. And clean apps of every library in this family under load.
import { describe, expect, it } from 'vitest';
import { markedSite, runFixture } from '../support/run';

describe('net.Socket: writes after the peer\'s FIN go through Node\'s per-instance writeAfterFIN', () => {
  const file = 'streamlibs/net-fin.js';
  const lateSite = markedSite(file, 'late', 'socket.write');

  it('peer ended first, observe: client-disconnect, code EPIPE, the same EPIPE error and callback as without the agent', async () => {
    const [bare, run] = await Promise.all([runFixture(file, 'none', { args: ['peer'] }), runFixture(file, 'require', { args: ['peer'] })]);
    expect(bare.out).toEqual([{ scenario: 'peer', events: ['returned:false', 'callback:EPIPE', 'error:EPIPE'], clientReceived: '' }]);
    expect(run.out).toEqual(bare.out);
    expect(run.reports).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({
      kind: 'write-after-end',
      type: 'Socket',
      code: 'EPIPE',
      method: 'write',
      endSite: null,
      lateSite,
      cause: 'client-disconnect',
      endSiteNote: 'no code ended this stream: the peer ended the connection (FIN), then Node ended this side',
      hint: "the peer ended the connection (FIN) before socket.write(...): stop writing on socket.on('end', ...), or check socket.writable before writing",
    });
    expect(typeof run.reports[0]!.closedAt).toBe('string');
  });

  it('peer ended first, a late end(chunk): client-disconnect too, with Node\'s own code for it', async () => {
    const [bare, run] = await Promise.all([runFixture(file, 'none', { args: ['peer-end'] }), runFixture(file, 'require', { args: ['peer-end'] })]);
    expect(run.out).toEqual(bare.out);
    expect(run.reports).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({
      kind: 'write-after-end',
      type: 'Socket',
      code: 'ERR_STREAM_WRITE_AFTER_END',
      method: 'end',
      endSite: null,
      lateSite: markedSite(file, 'late-end', 'socket.end'),
      cause: 'client-disconnect',
      endSiteNote: 'no code ended this stream: the peer ended the connection (FIN), then Node ended this side',
    });
  });

  it('the app ended first (socket.end), then the peer: the app\'s end() is the end site', async () => {
    const [bare, run] = await Promise.all([runFixture(file, 'none', { args: ['app'] }), runFixture(file, 'import', { args: ['app'] })]);
    expect(run.out).toEqual(bare.out);
    expect(run.out[0]).toMatchObject({ events: ['returned:false', 'callback:EPIPE'], clientReceived: 'bye' });
    expect(run.reports).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({ kind: 'write-after-end', type: 'Socket', code: 'EPIPE', endMethod: 'end', endSite: markedSite(file, 'app-end', 'socket.end'), lateSite });
    expect(run.reports[0]!.cause).not.toBe('client-disconnect');
  });

  it('enforce: the late write is dropped: no EPIPE \'error\' event; write() returns false, the callback still gets EPIPE', async () => {
    const run = await runFixture(file, 'require', { args: ['peer'], env: { ENDGUARD_MODE: 'enforce' } });
    expect(run.out).toEqual([{ scenario: 'peer', events: ['returned:false', 'callback:EPIPE'], clientReceived: '' }]);
    expect(run.reports[0]).toMatchObject({ mode: 'enforce', cause: 'client-disconnect' });
  });

  it('strict: throws at the user\'s socket.write(), naming the end site', async () => {
    const run = await runFixture(file, 'require', { args: ['app'], env: { ENDGUARD_MODE: 'strict' } });
    // writeAfterFIN had already scheduled its callback before the throw
    expect(run.out[0]).toMatchObject({ events: ['thrown:ERR_ENDGUARD_WRITE_AFTER_END', 'callback:EPIPE'] });
    expect(run.out[0]!.message).toBe(`endguard: write() after the stream was ended (write-after-end; ended at ${markedSite(file, 'app-end', 'socket.end')})`);
  });
});

describe('compression: res.write/res.end replaced on the instance', () => {
  const file = 'streamlibs/compression-late.js';
  const endSite = markedSite(file, 'end', 'res.end');
  const lateSite = markedSite(file, 'late', 'res.write');

  it('compressing, observe: the late write compression drops silently is reported (code null); the client gets the gzip body', async () => {
    const [bare, run] = await Promise.all([runFixture(file, 'none', { args: ['gzip'] }), runFixture(file, 'require', { args: ['gzip'] })]);
    expect(bare.out).toEqual([{ client: { status: 200, encoding: 'gzip', body: 'rows: 1,2,3' }, lateReturned: false }]);
    expect(run.out).toEqual(bare.out);
    expect(run.reports).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({ kind: 'write-after-end', type: 'ServerResponse', code: null, method: 'write', endMethod: 'end', endSite, lateSite, cause: 'late-callback' });
    expect(run.reports[0]!.lateStack).toMatch(/^Error: write after end \(dropped by compression\)\n/);
  });

  it('not compressing (identity): compression calls Node\'s res.write, reported with Node\'s code', async () => {
    const [bare, run] = await Promise.all([runFixture(file, 'none', { args: ['identity'] }), runFixture(file, 'import', { args: ['identity'] })]);
    expect(run.out).toEqual(bare.out);
    expect(run.out[0]!.client).toEqual({ status: 200, encoding: null, body: 'rows: 1,2,3' });
    expect(run.reports).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({ kind: 'write-after-end', code: 'ERR_STREAM_WRITE_AFTER_END', endSite, lateSite });
  });

  it('compressing, the client went away: a client-disconnect on the response (not on compression\'s zlib stream), and no second report for res.flush()', async () => {
    const [bare, run] = await Promise.all([runFixture(file, 'none', { args: ['disconnect'] }), runFixture(file, 'require', { args: ['disconnect'] })]);
    expect(bare.out).toEqual([{ client: { status: 200, encoding: 'gzip' }, lateReturned: false }]);
    expect(run.out).toEqual(bare.out);
    expect(run.reports).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({
      kind: 'write-after-destroy',
      type: 'ServerResponse',
      code: 'ERR_STREAM_DESTROYED',
      endSite: null,
      lateSite: markedSite(file, 'late-feed', 'res.write'),
      cause: 'client-disconnect',
    });
  });

  it('enforce returns false as compression does; strict throws at the late res.write()', async () => {
    const enforce = await runFixture(file, 'require', { args: ['gzip'], env: { ENDGUARD_MODE: 'enforce' } });
    expect(enforce.out).toEqual([{ client: { status: 200, encoding: 'gzip', body: 'rows: 1,2,3' }, lateReturned: false }]);
    const strict = await runFixture(file, 'require', { args: ['gzip'], env: { ENDGUARD_MODE: 'strict' } });
    expect(strict.out).toEqual([{ client: { status: 200, encoding: 'gzip', body: 'rows: 1,2,3' }, thrown: 'ERR_ENDGUARD_WRITE_AFTER_END' }]);
  });
});

describe('compression imported by an ES module app', () => {
  it('the swallowed late write is reported as under require()', async () => {
    const file = 'streamlibs/compression-esm.mjs';
    const [bare, run] = await Promise.all([runFixture(file, 'none'), runFixture(file, 'import')]);
    expect(bare.out).toEqual([{ client: { encoding: 'gzip', body: 'rows: 1,2,3' }, lateReturned: false }]);
    expect(run.out).toEqual(bare.out);
    expect(run.reports).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({
      kind: 'write-after-end',
      type: 'ServerResponse',
      code: null,
      method: 'write',
      endSite: markedSite(file, 'end', 'res.end'),
      lateSite: markedSite(file, 'late', 'res.write'),
      cause: 'late-callback',
    });
  });
});

describe('compression: the headers go out through its instance methods and on-headers\' writeHead', () => {
  const file = 'streamlibs/compression-headers.js';
  const cases = [
    { route: 'twice', call: 'res.json', lateCall: 'res.json', endMethod: 'end', cause: 'double-send' },
    { route: 'next', call: 'res.json', lateCall: 'res.json', endMethod: 'end', cause: 'next-after-send' },
    { route: 'stream', call: 'res.write', lateCall: 'res.setHeader', endMethod: 'write', cause: 'headers-already-sent' },
  ];
  for (const c of cases) {
    it(`${c.route}: the end site is the app's ${c.call}(), not on-headers' writeHead below compression`, async () => {
      const [bare, run] = await Promise.all([runFixture(file, 'none', { args: [c.route] }), runFixture(file, 'require', { args: [c.route] })]);
      expect(bare.out).toEqual([{ thrown: 'ERR_HTTP_HEADERS_SENT', client: { status: 200, encoding: 'gzip' } }]);
      expect(run.out).toEqual(bare.out);
      expect(run.reports).toHaveLength(1);
      expect(run.reports[0]).toMatchObject({
        kind: 'headers-after-sent',
        type: 'ServerResponse',
        code: 'ERR_HTTP_HEADERS_SENT',
        endMethod: c.endMethod,
        endSite: markedSite(file, `end-${c.route}`, c.call),
        lateSite: markedSite(file, `late-${c.route}`, c.lateCall),
        cause: c.cause,
      });
    });
  }
});

describe('on-headers: res.writeHead replaced on the instance, calling the previous one', () => {
  const file = 'streamlibs/on-headers-late.js';
  it('a late writeHead through it is reported at the user\'s call (on-headers applies the headers with setHeader first)', async () => {
    const [bare, run] = await Promise.all([runFixture(file, 'none'), runFixture(file, 'require')]);
    expect(bare.out).toEqual([{ client: { status: 200, body: 'ok', timing: '1ms' }, late: 'ERR_HTTP_HEADERS_SENT' }]);
    expect(run.out).toEqual(bare.out);
    expect(run.reports).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({
      kind: 'headers-after-sent',
      code: 'ERR_HTTP_HEADERS_SENT',
      method: 'setHeader',
      endSite: markedSite(file, 'end', 'res.end'),
      lateSite: markedSite(file, 'late', 'res.writeHead'),
    });
    const enforce = await runFixture(file, 'require', { env: { ENDGUARD_MODE: 'enforce' } });
    expect(enforce.out).toEqual([{ client: { status: 200, body: 'ok', timing: '1ms' }, late: 'returned' }]);
  });
});

describe('clean apps under load: winston, readable-stream 2/3/4, minipass, ws 7/8, net, compression', () => {
  for (const [preload, capture] of [
    ['require', 'always'],
    ['import', 'armed'],
  ] as const) {
    it(`zero reports and the same results as without the agent (--${preload}, capture ${capture})`, async () => {
      const file = 'streamlibs/clean-load.js';
      const [bare, run] = await Promise.all([
        runFixture(file, 'none', { args: ['1000'], timeoutMs: 60_000 }),
        runFixture(file, preload, { args: ['1000'], timeoutMs: 60_000, env: { ENDGUARD_CAPTURE: capture } }),
      ]);
      expect(bare.out).toEqual([{ results: { winston: 10000, rs4: 3000, rs3: 3000, rs2: 3000, minipass: 3000, ws8: 2500, ws7: 2500, net: 1750, compression: 250 } }]);
      expect(run.out).toEqual(bare.out);
      expect(run.reports).toEqual([]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
    }, 90_000);
  }
});

describe('http.ClientRequest', () => {
  it('the server reset the connection, a late req.write(): client-disconnect, and the note and hint name the server as the side that went away', async () => {
    const file = 'client-request-reset.js';
    const [bare, run] = await Promise.all([runFixture(file, 'none'), runFixture(file, 'require')]);
    expect(run.out).toEqual(bare.out);
    expect(run.reports, run.stderr).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({
      kind: 'write-after-destroy',
      type: 'ClientRequest',
      method: 'write',
      endSite: null,
      lateSite: markedSite(file, 'late', 'req.write'),
      cause: 'client-disconnect',
      endSiteNote: 'no code ended this stream: the server closed the connection',
    });
    expect(run.reports[0]!.hint).toMatch(/^the server closed the connection before req\.write\(\.\.\.\)/);
  });
});
