// ws 7 and 8: send()/ping() after the app's close()/terminate(), or after the peer closed or the
// connection dropped. A real ws server and client on 127.0.0.1 port 0 in a child process.
import { describe, expect, it } from 'vitest';
import { markedSite, runFixture, type Preload } from '../support/run';

const SCENARIO = 'streamlibs/scenarios/ws-late.js';
const site = (name: string, call: string) => markedSite(SCENARIO, name, call);
const notOpen = (state: 2 | 3) => `WebSocket is not open: readyState ${state} (${state === 2 ? 'CLOSING' : 'CLOSED'})`;

/** Per scenario: the report, and what the late call's callback gets (ws's own error, in every mode but strict). */
const SCENARIOS = [
  {
    scenario: 'close',
    report: { kind: 'write-after-end', method: 'send', endMethod: 'close', endSite: site('ws-close', 'socket.close'), lateSite: site('ws-late-close', 'socket.send'), cause: 'missing-return' },
    callback: notOpen(2),
    clientClose: 1005,
  },
  {
    scenario: 'terminate',
    report: { kind: 'write-after-end', method: 'send', endMethod: 'terminate', endSite: site('ws-terminate', 'socket.terminate'), lateSite: site('ws-late-terminate', 'socket.send'), cause: 'late-callback' },
    callback: notOpen(3),
    clientClose: 1006,
  },
  {
    scenario: 'peer-close',
    report: { kind: 'write-after-destroy', method: 'send', endMethod: null, endSite: null, lateSite: site('ws-late-peer', 'socket.send'), cause: 'client-disconnect', closeCode: 4001, endSiteNote: 'no code ended this stream: the peer closed the connection (close code 4001)' },
    callback: notOpen(3),
    clientClose: 4001,
  },
  {
    scenario: 'drop',
    report: { kind: 'write-after-destroy', method: 'send', endSite: null, lateSite: site('ws-late-peer', 'socket.send'), cause: 'client-disconnect', closeCode: 1006, endSiteNote: 'no code ended this stream: the connection dropped without a close frame (close code 1006)' },
    callback: notOpen(3),
    clientClose: 1006,
  },
  {
    scenario: 'max-payload',
    report: {
      kind: 'write-after-destroy',
      method: 'send',
      endMethod: null,
      endSite: null,
      lateSite: site('ws-late-peer', 'socket.send'),
      cause: 'client-disconnect',
      closeCode: 1009,
      endSiteNote: "no code of yours ended it: the peer broke the WebSocket protocol or ws's limits (such as maxPayload), and ws closed the connection (close code 1009)",
    },
    callback: notOpen(3),
    clientClose: 1009,
  },
  {
    scenario: 'ping',
    report: { kind: 'write-after-destroy', method: 'ping', endSite: null, lateSite: site('ws-late-ping', 'socket.ping'), cause: 'client-disconnect', closeCode: 4001 },
    callback: notOpen(3),
    clientClose: 4001,
  },
] as const;

const RUNS: { fixture: string; preload: Preload }[] = [
  { fixture: 'streamlibs/ws-late.js', preload: 'require' },
  { fixture: 'streamlibs/ws-late.mjs', preload: 'import' },
];

for (const pkg of ['ws', 'ws7']) {
  describe(`${pkg === 'ws' ? 'ws 8' : 'ws 7'}: a late send on a WebSocket`, () => {
    for (const { fixture, preload } of RUNS) {
      for (const s of SCENARIOS) {
        const label = `${s.scenario} (${fixture.endsWith('.mjs') ? 'ESM import' : 'require'}, --${preload})`;
        it(`${label} observe: reported, ws's own drop and callback untouched`, async () => {
          const [bare, run] = await Promise.all([runFixture(fixture, 'none', { args: [pkg, s.scenario] }), runFixture(fixture, preload, { args: [pkg, s.scenario] })]);
          expect(bare.out[0]).toMatchObject({ received: ['hello'], callback: s.callback, thrown: null, returned: 'undefined', clientClose: s.clientClose });
          expect(run.out).toEqual(bare.out);
          expect(run.reports, run.stderr).toHaveLength(1);
          expect(run.reports[0]).toMatchObject({ ...s.report, type: 'WebSocket', code: null, mode: 'observe' });
          expect(run.reports[0]!.lateStack).toMatch(new RegExp(`^Error: ${s.callback.replace(/[()]/g, '\\$&')}\\n`));
          // never the close reason text
          expect(JSON.stringify(run.reports[0])).not.toContain('secret reason text');
        });
      }

      it(`close (--${preload}) enforce: ws keeps its own drop and callback; reported`, async () => {
        const run = await runFixture(fixture, preload, { args: [pkg, 'close'], env: { ENDGUARD_MODE: 'enforce' } });
        expect(run.out[0]).toMatchObject({ received: ['hello'], callback: notOpen(2), thrown: null, returned: 'undefined' });
        expect(run.reports[0]).toMatchObject({ kind: 'write-after-end', mode: 'enforce' });
      });

      for (const s of [SCENARIOS[0], SCENARIOS[2]]) {
        it(`${s.scenario} (--${preload}) strict: send() throws at the late call, naming the end site`, async () => {
          const run = await runFixture(fixture, preload, { args: [pkg, s.scenario], env: { ENDGUARD_MODE: 'strict' } });
          const out = run.out[0]!;
          // the call never reached ws: no callback, nothing sent
          expect(out).toMatchObject({ received: ['hello'], callback: null });
          expect(out.thrown.code).toBe(s.report.kind === 'write-after-end' ? 'ERR_ENDGUARD_WRITE_AFTER_END' : 'ERR_ENDGUARD_WRITE_AFTER_DESTROY');
          if (s.report.endSite !== null) expect(out.thrown.message).toContain(`ended at ${s.report.endSite}`);
          else expect(out.thrown.message).toContain('the peer closed the connection (close code 4001)');
        });
      }
    }
  });
}

describe('a WebSocket ended through its createWebSocketStream() Duplex (CommonJS)', () => {
  const file = 'streamlibs/ws-duplex.js';
  for (const pkg of ['ws', 'ws7']) {
    for (const [scenario, call, endMethod, cause] of [
      ['end', 'duplex.end', 'end', 'late-callback'],
      ['pipeline', 'pipeline', 'pipe', 'pipe-ended'],
    ] as const) {
      it(`${pkg}, ${scenario}: a later send names the app's ${call}(), not ws's _final`, async () => {
        const [bare, run] = await Promise.all([runFixture(file, 'none', { args: [pkg, scenario] }), runFixture(file, 'require', { args: [pkg, scenario] })]);
        expect(run.out).toEqual(bare.out);
        expect(run.reports).toHaveLength(1);
        expect(run.reports[0]).toMatchObject({
          kind: 'write-after-end',
          type: 'WebSocket',
          method: 'send',
          endMethod,
          endSite: markedSite(file, `end-${scenario}`, call),
          lateSite: markedSite(file, 'late', 'socket.send'),
          cause,
        });
      });
    }

    it(`${pkg}, end, armed capture: no site kept, but the end is still the Duplex's end(), not ws's close()`, async () => {
      const run = await runFixture(file, 'require', { args: [pkg, 'end'], env: { ENDGUARD_CAPTURE: 'armed' } });
      expect(run.reports).toHaveLength(1);
      expect(run.reports[0]).toMatchObject({ kind: 'write-after-end', endMethod: 'end', endSite: null, capture: 'armed', lateSite: markedSite(file, 'late', 'socket.send') });
    });
  }
});
