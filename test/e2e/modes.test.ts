import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, REGISTER_CJS, REGISTER_MJS, ROOT, markedSite, runFixture, runNode } from '../support/run';

describe('observe (default)', () => {
  it('a correct app under load produces zero reports and the same output as without the agent', async () => {
    const run = await runFixture('clean-load.js', 'require', { timeoutMs: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.reports).toHaveLength(0);
    expect(run.out).toEqual([{ statuses: { 200: 500, 201: 100 } }]);
    expect(run.code).toBe(0);
  }, 90_000);

  it('crashes exactly as Node does on an unhandled late write, after printing the report', async () => {
    const bare = await runFixture('missing-return.js', 'none');
    const run = await runFixture('missing-return.js', 'require');
    expect(run.code).toBe(1);
    expect(bare.code).toBe(1);
    expect(run.stderr).toMatch(/Error \[ERR_STREAM_WRITE_AFTER_END\]: write after end/);
    expect(run.stderr.indexOf('"endguard":1')).toBeLessThan(run.stderr.indexOf('Unhandled'));
  });
});

describe('enforce', () => {
  it('drops the late write: no crash, the first response intact for the client', async () => {
    const run = await runFixture('missing-return.js', 'require', { env: { ENDGUARD_MODE: 'enforce' } });
    expect(run.code).toBe(0);
    expect(run.out).toEqual([{ client: { status: 200, body: 'not found' } }]);
    expect(run.reports).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({ kind: 'write-after-end', mode: 'enforce', cause: 'missing-return' });
    expect(run.stderr).not.toMatch(/Unhandled/);
  });

  it('write() returns false, emits no error, and its callback gets ERR_STREAM_WRITE_AFTER_END asynchronously', async () => {
    const bare = await runFixture('enforce-callback.js', 'none');
    expect(bare.out).toEqual([{ events: ['returned:false', 'callback:ERR_STREAM_WRITE_AFTER_END', 'error:ERR_STREAM_WRITE_AFTER_END'] }]);
    const run = await runFixture('enforce-callback.js', 'require', { env: { ENDGUARD_MODE: 'enforce' } });
    expect(run.out).toEqual([{ events: ['returned:false', 'callback:ERR_STREAM_WRITE_AFTER_END'] }]);
    expect(run.reports).toHaveLength(1);
  });

  it('keeps Express alive on a double res.json: no ERR_HTTP_HEADERS_SENT, the first body delivered, one report', async () => {
    const run = await runFixture('express-double-send.js', 'require', { env: { ENDGUARD_MODE: 'enforce' } });
    expect(run.out).toEqual([{ client: { status: 200, body: 'hello' } }]);
    expect(run.reports).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({ kind: 'headers-after-sent', cause: 'double-send', mode: 'enforce' });
  });

  it('leaves writes to a destroyed response to Node, which drops them silently: same output, reported as enforce', async () => {
    const bare = await runFixture('sse-client-disconnect.js', 'none');
    const run = await runFixture('sse-client-disconnect.js', 'require', { env: { ENDGUARD_MODE: 'enforce' } });
    expect(run.code).toBe(bare.code);
    expect(run.out).toEqual(bare.out);
    expect(run.reports).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({ kind: 'write-after-destroy', cause: 'client-disconnect', mode: 'enforce' });
  });

  it('observe leaves the same Express app to Node: the error reaches the error handler', async () => {
    const run = await runFixture('express-double-send.js', 'require');
    expect(run.out).toContainEqual({ expressError: 'ERR_HTTP_HEADERS_SENT' });
  });
});

describe('strict', () => {
  it('throws synchronously at the late call site, naming the end site', async () => {
    const run = await runFixture('strict-throw.js', 'require', { env: { ENDGUARD_MODE: 'strict' } });
    const endSite = markedSite('strict-throw.js', 'end', 'stream.end');
    const lateSite = markedSite('strict-throw.js', 'late', 'stream.write');
    expect(run.out).toHaveLength(1);
    const out = run.out[0]!;
    expect(out.thrown).toBe(true);
    expect(out.message).toContain(`ended at ${endSite}`);
    expect(out.code).toBe('ERR_ENDGUARD_WRITE_AFTER_END');
    expect(out.top).toContain(lateSite);
    expect(run.reports[0]).toMatchObject({ mode: 'strict', endSite, lateSite });
  });

  it("a late call made through Express (res.json → setHeader): the error's first frame is the app's call, not Express's", async () => {
    const run = await runFixture('strict-express.js', 'require', { env: { ENDGUARD_MODE: 'strict' } });
    const endSite = markedSite('strict-express.js', 'end', 'res.send');
    const lateSite = markedSite('strict-express.js', 'late', 'res.json');
    const thrown = run.out.find((o) => 'code' in o)!;
    expect(thrown, run.stderr).toMatchObject({ code: 'ERR_ENDGUARD_HEADERS_AFTER_SENT' });
    expect(thrown.message).toContain(`headers sent at ${endSite}`);
    expect(thrown.top).toBe(`at ${lateSite}`);
    expect(run.out).toContainEqual({ client: { status: 200, body: 'first' } });
  });

  it('a late write made by pipe internals: reported, never thrown inside Node, raised on the next tick naming both sites', async () => {
    const run = await runFixture('pipe-two-sources.js', 'require', { env: { ENDGUARD_MODE: 'strict' } });
    const endSite = markedSite('pipe-two-sources.js', 'end', 'quick.pipe');
    const lateSite = markedSite('pipe-two-sources.js', 'late', 'slow.pipe');
    expect(run.reports).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({ kind: 'write-after-end', cause: 'pipe-multiple-sources', mode: 'strict', endSite, lateSite });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Error: endguard: write() after the stream was ended (write-after-end; ended at ${endSite}; the late call came from stream internals set up at ${lateSite})`);
    expect(run.stderr).toContain("code: 'ERR_ENDGUARD_WRITE_AFTER_END'");
    // the sink's own error path is untouched: Node's error is not replaced by the strict one
    expect(run.out).not.toContainEqual({ done: true });
  });

  it('a pipe ending a sink the app already ended (double end by internals): an uncaught error naming both sites, exit code 1', async () => {
    const bare = await runFixture('strict-pipe-end.js', 'none');
    expect(bare.code).toBe(0);
    const run = await runFixture('strict-pipe-end.js', 'require', { env: { ENDGUARD_MODE: 'strict' } });
    const endSite = markedSite('strict-pipe-end.js', 'end', 'sink.end');
    const lateSite = markedSite('strict-pipe-end.js', 'late', '.pipe');
    expect(run.reports).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({ kind: 'double-end', cause: 'pipe-and-end', endSite, lateSite });
    expect(run.code).toBe(1);
    expect(run.out).toEqual([{ exit: 1 }]);
    expect(run.stderr).toContain(`endguard: end() after the stream was already ended (double-end; ended at ${endSite}; the late call came from stream internals set up at ${lateSite})`);
  });
});

describe('modes without any reporter', () => {
  it('enforce and strict act the same with ENDGUARD_LOG=off and no subscriber', async () => {
    const enforce = await runFixture('missing-return.js', 'require', { env: { ENDGUARD_MODE: 'enforce', ENDGUARD_LOG: 'off' } });
    expect(enforce).toMatchObject({ code: 0, stderr: '', out: [{ client: { status: 200, body: 'not found' } }] });
    const strict = await runFixture('strict-throw.js', 'require', { env: { ENDGUARD_MODE: 'strict', ENDGUARD_LOG: 'off' } });
    expect(strict.stderr).toBe('');
    expect(strict.out[0]).toMatchObject({ thrown: true, code: 'ERR_ENDGUARD_WRITE_AFTER_END' });
    expect(strict.out[0]!.message).toContain(`ended at ${markedSite('strict-throw.js', 'end', 'stream.end')}`);
  });
});

describe('off', () => {
  it('patches nothing', async () => {
    const on = await runFixture('off-mode.js', 'require');
    expect(on.out[0]).toMatchObject({ writable: true, duplex: true, pipe: true, outgoing: true });
    const off = await runFixture('off-mode.js', 'require', { env: { ENDGUARD_MODE: 'off' } });
    expect(off.out[0]).toMatchObject({ writable: false, duplex: false, pipe: false, outgoing: false });
    const bare = await runFixture('off-mode.js', 'none');
    // wrappers keep the originals' names and lengths
    expect(on.out[0]!.names).toEqual(bare.out[0]!.names);
    expect(on.out[0]!.lengths).toEqual(bare.out[0]!.lengths);
    const late = await runFixture('late-callback.js', 'require', { env: { ENDGUARD_MODE: 'off' } });
    expect(late.reports).toHaveLength(0);
    expect(late.stderr).toBe('');
  });
});

describe('loading', () => {
  it('--require and --import together patch once and report once', async () => {
    const run = await runNode(['--require', REGISTER_CJS, '--import', REGISTER_MJS, path.join(FIXTURES, 'late-callback.js')]);
    expect(run.reports).toHaveLength(1);
    expect(run.stderr.split('\n').filter((l) => l.startsWith('endguard:'))).toEqual([]);
  });

  it('works from NODE_OPTIONS', async () => {
    const run = await runNode([path.join(FIXTURES, 'late-callback.js')], { env: { NODE_OPTIONS: `--require ${REGISTER_CJS}` } });
    expect(run.reports).toHaveLength(1);
  });

  it('a second installed copy stays inactive and warns once', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'endguard-copy-'));
    try {
      const copy = path.join(dir, 'node_modules', 'endguard');
      for (const entry of ['dist', 'register.cjs', 'register.mjs', 'package.json']) cpSync(path.join(ROOT, entry), path.join(copy, entry), { recursive: true });
      cpSync(path.join(ROOT, 'node_modules', 'shimmer'), path.join(dir, 'node_modules', 'shimmer'), { recursive: true });
      const run = await runNode(['--require', REGISTER_CJS, '--import', path.join(copy, 'register.mjs'), path.join(FIXTURES, 'late-callback.js')]);
      expect(run.reports).toHaveLength(1);
      const warnings = run.stderr.split('\n').filter((l) => l.startsWith('endguard: another copy'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(copy);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('start → stop → start: one report per violation in each started phase; a user’s unsubscribe works; stop leaves nothing subscribed', async () => {
    const run = await runFixture('restart.js', 'none', { env: { ENDGUARD_DEDUPE_WINDOW: '0' } });
    expect(run.out).toEqual([{ first: 1, stopped: 0, second: 1, unsubscribed: true, afterUnsubscribe: 0, subscribersAfterStop: false }]);
    const lateSite = markedSite('restart.js', 'late', 'stream.write');
    // the log too: exactly one line per violation while started (3 started-phase violations);
    // a restart starts counting afresh
    expect(run.reports.map((r) => r.lateSite)).toEqual([lateSite, lateSite, lateSite]);
    expect(run.reports.map((r) => r.count)).toEqual([1, 1, 2]);
  });

  it('programmatic start() after the app created its streams still sees late writes', async () => {
    const run = await runFixture('programmatic-start.js', 'none');
    expect(run.reports).toHaveLength(1);
    expect(run.reports[0]).toMatchObject({ kind: 'write-after-end', endSite: null });
    expect(run.out).toEqual([{ started: true, stopped: true, afterStop: 0 }]);
  });
});

describe('capture policy', () => {
  it('budget (the NODE_ENV=production default): both sites from the first occurrence', async () => {
    const run = await runFixture('armed-repeat.js', 'require', { env: { NODE_ENV: 'production' } });
    expect(run.reports).toHaveLength(1); // the second is a repeat of the same key: counted, not printed
    expect(run.reports[0]).toMatchObject({
      capture: 'budget',
      endSite: markedSite('armed-repeat.js', 'end', 'res.status(400).json'),
      lateSite: markedSite('armed-repeat.js', 'late', 'res.json'),
      cause: 'missing-return',
    });
  });

  it('armed: the first report has the late site only, the next one both', async () => {
    const run = await runFixture('armed-repeat.js', 'require', { env: { NODE_ENV: 'production', ENDGUARD_CAPTURE: 'armed' } });
    expect(run.reports).toHaveLength(2);
    const [first, second] = run.reports;
    const endSite = markedSite('armed-repeat.js', 'end', 'res.status(400).json');
    const lateSite = markedSite('armed-repeat.js', 'late', 'res.json');
    expect(first).toMatchObject({ capture: 'armed', endSite: null, lateSite, kind: 'headers-after-sent' });
    expect(first!.endSiteNote).toMatch(/next occurrence/);
    expect(second).toMatchObject({ capture: 'armed', endSite, lateSite, cause: 'missing-return' });
  });

  for (const framework of ['express', 'fastify']) {
    it(`armed, ${framework}: a violation on /users/1 arms the route /users/:id, so /users/2 has both sites`, async () => {
      const file = 'armed-route-template.js';
      const run = await runFixture(file, 'require', { args: [framework], env: { ENDGUARD_CAPTURE: 'armed' } });
      expect(run.out).toEqual([{ client: [200, 200] }]);
      const lateSite = markedSite(file, `late-${framework}`, framework === 'express' ? 'res.json' : 'reply.send');
      expect(run.reports.map((r) => [r.endSite, r.lateSite])).toEqual([
        [null, lateSite],
        [markedSite(file, `end-${framework}`, framework === 'express' ? 'res.json' : 'reply.send'), lateSite],
      ]);
    });
  }

  it('budget exhausted: the report says why its end site is missing and arms the key; the budget comes back', async () => {
    const file = 'budget-exhausted.js';
    const run = await runFixture(file, 'require', { env: { ENDGUARD_CAPTURE: 'budget', ENDGUARD_CAPTURE_BUDGET: '0.1' } });
    expect(run.reports.map((r) => r.lateSite)).toEqual(['a', 'b', 'c'].map((s) => markedSite(file, `late-${s}`, '.write')));
    const [a, b, c] = run.reports;
    expect(a).toMatchObject({ capture: 'budget', endSite: null, kind: 'write-after-end' });
    expect(a!.endSiteNote).toMatch(/^capture budget \(0\.1 ms\/s\) exhausted: this end was not sampled \(\d+ % of ends captured in the last second\); its route or stream type is captured from its next occurrence$/);
    // armed by the first report: captured although the budget is still spent
    expect(b).toMatchObject({ endSite: markedSite(file, 'end-b', '.end') });
    // another stream type, a second later: the budget has refilled
    expect(c).toMatchObject({ type: 'PassThrough', endSite: markedSite(file, 'end-c', '.end') });
  });

  it('ENDGUARD_CAPTURE=always overrides NODE_ENV=production', async () => {
    const run = await runFixture('armed-repeat.js', 'require', { env: { NODE_ENV: 'production', ENDGUARD_CAPTURE: 'always' } });
    expect(run.reports[0]).toMatchObject({ capture: 'always', endSite: markedSite('armed-repeat.js', 'end', 'res.status(400).json') });
    expect(run.reports).toHaveLength(1); // the second is a repeat of the same (endSite, lateSite, kind): counted, not printed
  });
});

describe('reports', () => {
  it('pretty (default): both sites with a source excerpt and caret, cause, hint', async () => {
    const run = await runFixture('late-callback.js', 'require', { env: { ENDGUARD_LOG: undefined } });
    const end = markedSite('late-callback.js', 'end', 'res.end');
    const late = markedSite('late-callback.js', 'late', 'res.end');
    expect(run.stderr).toContain('endguard: write-after-end on ServerResponse.end() (ERR_STREAM_WRITE_AFTER_END) [mode=observe, capture=always]');
    expect(run.stderr).toContain(`ended at        ${end}`);
    expect(run.stderr).toContain(`late call       ${late}`);
    expect(run.stderr).toMatch(/\n {4}13 \| {5}res\.end\('timeout'\); \/\/ endguard:end\n {7}\| {9}\^\n/);
    expect(run.stderr).toMatch(/cause: late-callback: a callback responded after res\.end\(\.\.\.\)/);
  });

  it('pretty: the caret sits under the call in terminal columns, past wide characters on the line', async () => {
    const run = await runFixture('wide-chars.js', 'require', { env: { ENDGUARD_LOG: 'pretty' } });
    const late = markedSite('wide-chars.js', 'late', 's.write');
    expect(run.stderr).toContain(`late call       ${late}`);
    const lines = run.stderr.split('\n');
    const at = lines.findIndex((l) => l.includes("s.write('x')") && l.includes('|'));
    expect(at, run.stderr).toBeGreaterThan(-1);
    const source = lines[at]!.slice(lines[at]!.indexOf('| ') + 2);
    const caret = lines[at + 1]!.slice(lines[at + 1]!.indexOf('| ') + 2).indexOf('^');
    // 日本 and the emoji take two columns each: the caret is under the `w` of write
    const before = source.slice(0, source.indexOf("s.write('x')") + 2);
    expect(caret).toBe([...before].reduce((w, ch) => w + (/[\u3000-\u9fff]|\p{Extended_Pictographic}/u.test(ch) ? 2 : 1), 0));
  });

  it('dedupes the same (endSite, lateSite, kind) and prints a counter after the window', async () => {
    const run = await runFixture('repeat-violations.js', 'require', { env: { ENDGUARD_LOG: 'pretty', ENDGUARD_DEDUPE_WINDOW: '1' } });
    const blocks = run.stderr.split('\n').filter((l) => l.startsWith('endguard: write-after-end'));
    expect(blocks).toHaveLength(2);
    // the span is the time since the key last printed (the fixture waits 1.1 s), not the window
    const span = /seen 5 times in the last (\d+(?:\.\d)?) s \(total 6\)/.exec(run.stderr);
    expect(span, run.stderr).not.toBeNull();
    expect(Number(span![1])).toBeGreaterThanOrEqual(1.1);
    expect(run.stderr).toContain('endguard: 4 repeated or rate-limited reports were counted but not printed');
  });

  it('json: one object per line; the count grows per key', async () => {
    const run = await runFixture('repeat-violations.js', 'require', { env: { ENDGUARD_DEDUPE_WINDOW: '0' } });
    expect(run.reports.map((r) => r.count)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('publishes on diagnostics_channel endguard:violation with the stream as target, even with the log off', async () => {
    const run = await runFixture('channel-subscriber.js', 'require', { env: { ENDGUARD_LOG: 'off' } });
    expect(run.stderr).toBe('');
    expect(run.out).toEqual([
      {
        kind: 'write-after-end',
        endSite: markedSite('channel-subscriber.js', 'end', 'stream.end'),
        lateSite: markedSite('channel-subscriber.js', 'late', 'stream.write'),
        targetIsStream: true,
        keys: ['capture', 'cause', 'code', 'count', 'endMethod', 'endSite', 'endStack', 'endguard', 'hint', 'kind', 'lateSite', 'lateStack', 'method', 'mode', 'type'],
        serializable: true,
      },
    ]);
  });

  it('a second late call on the same stream still names the end site', async () => {
    const run = await runFixture('two-late-calls.js', 'require');
    const end = markedSite('two-late-calls.js', 'end', 'stream.end');
    expect(run.reports.map((r) => [r.endSite, r.lateSite])).toEqual([
      [end, markedSite('two-late-calls.js', 'late', 'stream.write')],
      [end, markedSite('two-late-calls.js', 'late2', 'stream.write')],
    ]);
  });

  it('never contains a payload, a header value or a query string', async () => {
    const run = await runFixture('no-payload.js', 'require');
    expect(run.reports).toHaveLength(1);
    expect(run.stderr).not.toMatch(/QUERYSECRET41|HEADERSECRET42|token=/);
  });

  it('maps sites back to TypeScript sources with --enable-source-maps', async () => {
    const ts = 'ts/missing-return.ts';
    const mapped = await runFixture('ts/missing-return.js', 'require', { nodeArgs: ['--enable-source-maps'] });
    expect(mapped.reports).toHaveLength(1);
    expect(mapped.reports[0]).toMatchObject({ endSite: markedSite(ts, 'end', 'res.end'), lateSite: markedSite(ts, 'late', 'res.end') });
    expect(mapped.reports[0]!.lateStack).toContain('missing-return.ts');
    const unmapped = await runFixture('ts/missing-return.js', 'require');
    expect(unmapped.reports[0]!.endSite).toMatch(/missing-return\.js:\d+:\d+$/);
  });
});
