// readable-stream 2/3/4, minipass and winston: their own Writable implementations, outside
// node:stream, reported with the same kinds, sites and modes. Real packages, child processes.
import { describe, expect, it } from 'vitest';
import { NODE, markedSite, runFixture, type Preload } from '../support/run';
import { spawnSync } from 'node:child_process';

const DIR = 'streamlibs';
const SCENARIO = `${DIR}/scenarios/late-calls.js`;
const site = (name: string, call: string) => markedSite(SCENARIO, name, call);

/** The four late calls of scenarios/late-calls.js: their sites and the report each must give. */
const CALLS = [
  { name: 'write', method: 'write', kind: 'write-after-end', endMethod: 'end', end: site('end-write', 'a.end'), late: site('late-write', 'a.write'), cause: 'missing-return' },
  { name: 'end-chunk', method: 'end', kind: 'write-after-end', endMethod: 'end', end: site('end-chunk', 'b.end'), late: site('late-end-chunk', "b.end('late')"), cause: 'missing-return' },
  { name: 'destroy', method: 'write', kind: 'write-after-destroy', endMethod: 'destroy', end: site('destroy', 'c.destroy'), late: site('late-destroy', 'c.write'), cause: 'destroyed' },
  { name: 'double', method: 'end', kind: 'double-end', endMethod: 'end', end: site('end-double', 'd.end'), late: site('late-double', 'd.end()'), cause: 'double-end' },
] as const;

type Codes = Record<(typeof CALLS)[number]['name'], string | null>;

/** Each library's own error code per late call (null: it raises none), and what enforce leaves the program observing. */
const LIBRARIES: { pkg: string; type: string; codes: Codes; enforced: string[] }[] = [
  {
    pkg: 'readable-stream',
    type: 'Writable',
    codes: { write: 'ERR_STREAM_WRITE_AFTER_END', 'end-chunk': 'ERR_STREAM_WRITE_AFTER_END', destroy: 'ERR_STREAM_DESTROYED', double: null },
    // the second end() comes before 'finish': 4.x (as Node) answers its callback then, without an error
    // like node:stream: the write to a destroyed stream is left to the library (its callback, no 'error')
    enforced: ['write:returned:false', 'end-chunk:returned:this', 'destroy:returned:false', 'double:returned:this', 'write:cb:ERR_STREAM_WRITE_AFTER_END', 'destroy:cb:ERR_STREAM_DESTROYED'],
  },
  {
    pkg: 'readable-stream3',
    type: 'Writable',
    codes: { write: 'ERR_STREAM_WRITE_AFTER_END', 'end-chunk': 'ERR_STREAM_WRITE_AFTER_END', destroy: 'ERR_STREAM_DESTROYED', double: null },
    // 3.x raises an 'error' for a write after destroy() (autoDestroy off): enforce drops it too
    enforced: ['write:returned:false', 'end-chunk:returned:this', 'destroy:returned:false', 'double:returned:this', 'write:cb:ERR_STREAM_WRITE_AFTER_END', 'destroy:cb:ERR_STREAM_DESTROYED'],
  },
  {
    pkg: 'readable-stream2',
    type: 'Writable',
    codes: { write: null, 'end-chunk': null, destroy: null, double: null },
    // 2.x's end() returns undefined; its errors have no code
    enforced: ['write:returned:false', 'end-chunk:returned:undefined', 'destroy:returned:false', 'double:returned:undefined', 'write:cb:write after end', 'destroy:cb:write after end'],
  },
];

function expectReports(reports: Record<string, any>[], type: string, codes: Codes, mode: string) {
  expect(reports.map((r) => r.lateSite)).toEqual(CALLS.map((c) => c.late));
  CALLS.forEach((c, i) => {
    expect(reports[i]).toMatchObject({
      kind: c.kind,
      type,
      code: codes[c.name],
      method: c.method,
      endMethod: c.endMethod,
      endSite: c.end,
      lateSite: c.late,
      cause: c.cause,
      mode,
      capture: 'always',
    });
  });
}

function expectStrictThrows(seen: string[]) {
  const thrown = seen.filter((s) => s.includes(':threw:'));
  expect(thrown).toHaveLength(4);
  CALLS.forEach((c, i) => {
    expect(thrown[i]).toMatch(new RegExp(`^${c.name}:threw:ERR_ENDGUARD_${c.kind.toUpperCase().replace(/-/g, '_')}:`));
    expect(thrown[i]).toContain(` at ${c.end}`);
  });
  // nothing reached the library: no 'error' event, no callback
  expect(seen.filter((s) => !s.includes(':threw:'))).toEqual([]);
}

const RUNS: { fixture: string; preload: Preload }[] = [
  { fixture: `${DIR}/rs-late.js`, preload: 'require' },
  { fixture: `${DIR}/rs-late.mjs`, preload: 'import' },
];

describe('each patch arms when the app loads its package', () => {
  // endguard's own dependencies: shimmer, and require-in-the-middle with what it loads
  const AGENT = ['debug', 'has-flag', 'module-details-from-path', 'ms', 'require-in-the-middle', 'shimmer', 'supports-color'];
  for (const preload of ['require', 'import'] as const) {
    it(`--${preload}: an app that uses none of them loads none of them; ws is wrapped once the app requires it`, async () => {
      const [bare, run] = await Promise.all([runFixture(`${DIR}/nothing-loaded.js`, 'none'), runFixture(`${DIR}/nothing-loaded.js`, preload)]);
      expect(bare.out).toEqual([{ before: [], wrapped: [] }]);
      const { before, wrapped } = run.out[0]!;
      expect(before.filter((p: string) => !AGENT.includes(p))).toEqual([]);
      expect(wrapped).toEqual(['Symbol(endguard.wrapper)']);
    });
  }
});

describe('readable-stream 4, 3, 2: late calls on the package\'s own Writable', () => {
  for (const lib of LIBRARIES) {
    for (const { fixture, preload } of RUNS) {
      const label = `${lib.pkg} (${fixture.endsWith('.mjs') ? 'ESM import' : 'require'}, --${preload})`;
      it(`${label} observe: both sites, the library's own code, the same program as without the agent`, async () => {
        const [bare, run] = await Promise.all([runFixture(fixture, 'none', { args: [lib.pkg] }), runFixture(fixture, preload, { args: [lib.pkg] })]);
        expect(run.reports, run.stderr).toHaveLength(4);
        expectReports(run.reports, lib.type, lib.codes, 'observe');
        expect(run.out).toEqual(bare.out);
        expect(run.code).toBe(bare.code);
      });

      it(`${label} enforce: dropped where the library would raise, its return values kept`, async () => {
        const run = await runFixture(fixture, preload, { args: [lib.pkg], env: { ENDGUARD_MODE: 'enforce' } });
        expect(run.reports).toHaveLength(4);
        expect(run.out).toEqual([{ seen: lib.enforced }]);
      });

      it(`${label} strict: throws at each late call, naming its end site`, async () => {
        const run = await runFixture(fixture, preload, { args: [lib.pkg], env: { ENDGUARD_MODE: 'strict' } });
        expectReports(run.reports, lib.type, lib.codes, 'strict');
        expectStrictThrows(run.out[0]!.seen);
      });
    }
  }

  it('several copies at once (the app\'s 4.x, the aliases, winston\'s and winston-transport\'s own 3.x): each reported with its own code', async () => {
    const file = `${DIR}/rs-copies.js`;
    const [bare, run] = await Promise.all([runFixture(file, 'none'), runFixture(file, 'require')]);
    expect(run.out).toEqual(bare.out);
    expect(run.out[0]!.distinct).toBe(5);
    const expected = [
      ['app4', 'ERR_STREAM_WRITE_AFTER_END'],
      ['alias3', 'ERR_STREAM_WRITE_AFTER_END'],
      ['alias2', null],
      ['winston3', 'ERR_STREAM_WRITE_AFTER_END'],
      ['transport3', 'ERR_STREAM_WRITE_AFTER_END'],
    ] as const;
    expect(run.reports).toHaveLength(6);
    expected.forEach(([name, code], i) => {
      expect(run.reports[i]).toMatchObject({
        kind: 'write-after-end',
        type: 'Writable',
        code,
        endSite: markedSite(file, `end-${name}`, `${'abcde'[i]}.end`),
        lateSite: markedSite(file, `late-${name}`, `${'abcde'[i]}.write`),
      });
    });
    // a Node Readable piped into winston's copy: the end site is the user's pipe() call
    expect(run.reports[5]).toMatchObject({
      kind: 'write-after-end',
      endMethod: 'pipe',
      cause: 'pipe-ended',
      endSite: markedSite(file, 'pipe', '.pipe'),
      lateSite: markedSite(file, 'late-pipe', 'sink.write'),
    });
  });

  for (const [pkg, how] of [
    ['readable-stream', 'pipe'],
    ['readable-stream', 'pipeline'],
    ['readable-stream3', 'pipe'],
    ['readable-stream3', 'pipeline'],
    ['readable-stream2', 'pipe'],
    ['minipass', 'pipe'],
  ] as const) {
    it(`${pkg} ${how}() ends the destination: the end site is the user's ${how}(...) call, not the library's line`, async () => {
      const file = `${DIR}/rs-pipe.js`;
      const [bare, run] = await Promise.all([runFixture(file, 'none', { args: [pkg, how] }), runFixture(file, 'require', { args: [pkg, how] })]);
      expect(run.out).toEqual(bare.out);
      expect(run.reports).toHaveLength(1);
      expect(run.reports[0]).toMatchObject({
        kind: 'write-after-end',
        type: pkg === 'minipass' ? 'Minipass' : 'Writable',
        code: pkg === 'readable-stream2' || pkg === 'minipass' ? null : 'ERR_STREAM_WRITE_AFTER_END',
        endMethod: 'pipe',
        endSite: how === 'pipe' ? markedSite(file, 'pipe', 'source.pipe') : markedSite(file, 'pipeline', '.pipeline'),
        lateSite: markedSite(file, 'late', 'dest.write'),
        cause: 'pipe-ended',
      });
    });
  }

  for (const pkg of ['readable-stream', 'readable-stream3', 'readable-stream2'] as const) {
    it(`${pkg}: a second source's pipe cut off by the destination's finish is reported, with no late write`, async () => {
      const file = `${DIR}/rs-cut-off.js`;
      const [bare, run] = await Promise.all([runFixture(file, 'none', { args: [pkg] }), runFixture(file, 'require', { args: [pkg] })]);
      expect(run.out).toEqual(bare.out);
      expect(run.reports, run.stderr).toHaveLength(1);
      expect(run.reports[0]).toMatchObject({
        kind: 'write-after-end',
        type: 'Writable',
        method: 'write',
        code: null,
        endMethod: 'pipe',
        endSite: markedSite(file, 'end', 'first.pipe'),
        lateSite: markedSite(file, 'late', 'second.pipe'),
        cause: 'pipe-multiple-sources',
      });
    });
  }

  it('started with start() after the packages were loaded: the cached copies are patched', async () => {
    const file = `${DIR}/late-start.js`;
    const run = await runFixture(file, 'none');
    expect(run.out).toEqual([{ seen: ['ERR_STREAM_WRITE_AFTER_END', 'write after end'] }]);
    expect(run.reports.map((r) => [r.type, r.endSite, r.lateSite])).toEqual([
      ['Writable', markedSite(file, 'end-rs', 'w.end'), markedSite(file, 'late-rs', 'w.write')],
      ['Minipass', markedSite(file, 'end-minipass', 'm.end'), markedSite(file, 'late-minipass', 'm.write')],
    ]);
  });
});

/** Does the Node under test have module.registerHooks (22.15+, 23.5+)? Without it minipass's ESM build is not observed. */
function nodeHasRegisterHooks(): boolean {
  const r = spawnSync(NODE, ['-p', "typeof require('node:module').registerHooks"], { encoding: 'utf8' });
  return r.stdout.trim() === 'function';
}

describe('minipass 7: its own stream class, CJS and its own ESM build', () => {
  const codes: Codes = { write: null, 'end-chunk': null, destroy: 'ERR_STREAM_DESTROYED', double: null };
  const esmObserved = nodeHasRegisterHooks();
  const runs = [
    { fixture: `${DIR}/minipass-late.js`, preload: 'require' as const, observed: true },
    { fixture: `${DIR}/minipass-late.js`, preload: 'import' as const, observed: true },
    { fixture: `${DIR}/minipass-late.mjs`, preload: 'import' as const, observed: esmObserved },
    { fixture: `${DIR}/minipass-late.mjs`, preload: 'require' as const, observed: esmObserved },
  ];
  for (const { fixture, preload, observed } of runs) {
    const label = `${fixture.endsWith('.mjs') ? "import { Minipass } from 'minipass' (ESM build)" : "require('minipass')"}, --${preload}`;
    it(`${label} observe: ${observed ? 'both sites; minipass throws its own Error (no code) as without the agent' : 'not observed on this Node (no module.registerHooks): no report, nothing changed'}`, async () => {
      const [bare, run] = await Promise.all([runFixture(fixture, 'none'), runFixture(fixture, preload)]);
      expect(bare.out).toEqual([
        { seen: ['write:threw:no-code:write after end', 'end-chunk:threw:no-code:write after end', 'destroy:error:ERR_STREAM_DESTROYED', 'destroy:returned:true', 'double:returned:this'] },
      ]);
      expect(run.out).toEqual(bare.out);
      if (!observed) {
        expect(run.reports).toEqual([]);
        return;
      }
      expectReports(run.reports, 'Minipass', codes, 'observe');
    });

    if (!observed) continue;
    it(`${label} enforce: no throw, no 'error' event; write() returns false, its callback gets minipass's error`, async () => {
      const run = await runFixture(fixture, preload, { env: { ENDGUARD_MODE: 'enforce' } });
      expect(run.out).toEqual([
        { seen: ['write:returned:false', 'end-chunk:returned:this', 'destroy:returned:false', 'double:returned:this', 'write:cb:write after end', 'destroy:cb:ERR_STREAM_DESTROYED'] },
      ]);
    });

    it(`${label} strict: throws at each late call, naming its end site`, async () => {
      const run = await runFixture(fixture, preload, { env: { ENDGUARD_MODE: 'strict' } });
      expectStrictThrows(run.out[0]!.seen);
    });
  }
});

describe('winston 3 (winston#2219): logger.end(), then a late logger.info()', () => {
  for (const [fixture, preload] of [
    [`${DIR}/winston-late.js`, 'require'],
    [`${DIR}/winston-late.mjs`, 'import'],
  ] as const) {
    const endSite = markedSite(`${DIR}/scenarios/winston-late.js`, 'end', 'logger.end');
    const lateSite = markedSite(`${DIR}/scenarios/winston-late.js`, 'late', 'logger.info');
    const report = { kind: 'write-after-end', type: 'DerivedLogger', code: 'ERR_STREAM_WRITE_AFTER_END', method: 'write', endMethod: 'end', endSite, lateSite };

    it(`${fixture} --${preload} observe: the user's logger.end() and logger.info(), not winston's internals; the same throw`, async () => {
      const [bare, run] = await Promise.all([runFixture(fixture, 'none'), runFixture(fixture, preload)]);
      expect(bare.out).toEqual([{ thrown: 'ERR_STREAM_WRITE_AFTER_END', message: 'write after end' }, { lines: ['started'] }]);
      expect(run.out).toEqual(bare.out);
      expect(run.reports).toHaveLength(1);
      expect(run.reports[0]).toMatchObject({ ...report, cause: 'late-callback', mode: 'observe' });
      expect(run.reports[0]!.hint).toBe(
        // winston's readable-stream 3 has no writableEnded: its end() sets `writable` false
        'a callback wrote after logger.end(...): check logger.writable before logger.info(...), or cancel the pending work when the stream ends',
      );
    });

    it(`${fixture} --${preload} enforce: the late line is dropped, no crash`, async () => {
      const run = await runFixture(fixture, preload, { env: { ENDGUARD_MODE: 'enforce' } });
      expect(run.out).toEqual([{ lateCall: 'returned' }, { lines: ['started'] }]);
      expect(run.reports[0]).toMatchObject({ ...report, mode: 'enforce' });
    });

    it(`${fixture} --${preload} strict: logger.info() throws, naming logger.end()`, async () => {
      const run = await runFixture(fixture, preload, { env: { ENDGUARD_MODE: 'strict' } });
      expect(run.out[0]).toEqual({
        thrown: 'ERR_ENDGUARD_WRITE_AFTER_END',
        message: `endguard: write() after the stream was ended (write-after-end; ended at ${endSite})`,
      });
    });
  }
});
