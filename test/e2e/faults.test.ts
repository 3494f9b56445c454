// Fault injection: hostile or unusual surroundings must never crash the host nor change what the
// program observes in observe mode. Each fixture runs without the agent and with it
// (--require), and the two runs must agree on exit code and stdout (the fixture prints every
// observable result: return values, events, callback errors, what its client received).
import { describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { markedSite, runFixture, type RunResult } from '../support/run';

const FAULTS = 'faults';
const fixture = (name: string) => path.join(FAULTS, `${name}.js`);

async function both(name: string, args: string[] = [], env: Record<string, string> = {}) {
  const [without, withAgent] = await Promise.all([
    runFixture(fixture(name), 'none', { args, env }),
    runFixture(fixture(name), 'require', { args, env: { ENDGUARD_MODE: 'observe', ...env } }),
  ]);
  return { without, withAgent };
}

function expectSame(without: RunResult, withAgent: RunResult) {
  expect(without.code, `baseline run failed:\n${without.stderr}`).toBe(0);
  expect({ code: withAgent.code, signal: withAgent.signal, stdout: withAgent.stdout }, withAgent.stderr).toEqual({
    code: without.code,
    signal: without.signal,
    stdout: without.stdout,
  });
  expect(withAgent.stderr).not.toMatch(/endguard: failed to start/);
}

function agentWarnings(result: RunResult): string[] {
  return result.stderr.split('\n').filter((l) => l.startsWith('endguard: '));
}

describe('fault injection (observe mode: same behaviour with and without the agent)', () => {
  it('a diagnostics_channel subscriber of endguard:violation that throws does not crash the host', async () => {
    const { without, withAgent } = await both('throwing-subscriber');
    // the subscriber was reached (so the fault was really injected)...
    expect(withAgent.stderr).toMatch(/subscriber calls: [1-9]/);
    // ...and the program still ran to its end, exactly as without the agent
    expectSame(without, withAgent);
    expect(withAgent.reports.length).toBeGreaterThan(0);
  });

  it('a throwing subscriber preloaded before the agent (there before endguard fenced the channel) does not crash the host', async () => {
    const nodeArgs = ['--require', path.join(__dirname, '..', 'fixtures', FAULTS, 'subscriber-preload.js')];
    const [without, withAgent] = await Promise.all([
      runFixture(fixture('late-writes'), 'none', { nodeArgs }),
      runFixture(fixture('late-writes'), 'require', { nodeArgs }),
    ]);
    expect(withAgent.stderr).toMatch(/subscriber calls: [1-9]/);
    expectSame(without, withAgent);
    expect(withAgent.stderr).toContain('endguard: a subscriber of endguard:violation threw (subscriber exploded)');
  });

  it('a log sink that throws (process.stderr.write replaced) changes nothing', async () => {
    const { without, withAgent } = await both('throwing-stderr');
    expectSame(without, withAgent);
  });

  for (const mode of ['span', 'get-tracer', 'start-span', 'context']) {
    it(`a broken OpenTelemetry setup (${mode} throws) does not crash the host`, async () => {
      const { without, withAgent } = await both('otel-broken', [mode]);
      expectSame(without, withAgent);
      // the log reporter is independent of the OTel one: reports still arrive
      expect(withAgent.reports.length).toBeGreaterThan(0);
      // exactly one warning line for the agent's own failure: the reporter turns itself off
      const warnings = agentWarnings(withAgent);
      expect(warnings, warnings.join('\n')).toHaveLength(1);
      expect(warnings[0]).toMatch(/^endguard: internal error in the OpenTelemetry reporter \(broken \w+\); that hook is now a pass-through$/);
    });
  }

  describe("the app's own Error.prepareStackTrace / Error.stackTraceLimit", () => {
    const file = fixture('prepare-stack-trace');
    const endSite = markedSite(file, 'end', 'stream.end');
    const lateSite = markedSite(file, 'late', 'stream.write');

    for (const mode of ['string', 'non-string', 'throws', 'limit-0']) {
      it(`${mode}: user errors formatted as before, endguard sites still exact`, async () => {
        const { without, withAgent } = await both('prepare-stack-trace', [mode]);
        expectSame(without, withAgent);
        const out = withAgent.out[0]!;
        if (mode === 'string') expect(out.before).toMatch(/^CUSTOM mine \[userError,/);
        if (mode === 'non-string') expect(out.before).toEqual({ type: 'object', value: { custom: true, frames: expect.any(Number) } });
        if (mode === 'throws') expect(out.after).toEqual({ threw: 'formatter broken' });
        if (mode === 'limit-0') {
          expect(out.before).toBe('Error: mine');
          expect(out.after).toBe('Error: mine');
          expect(out.limit).toBe(0);
        }
        expect(withAgent.reports).toHaveLength(1);
        const report = withAgent.reports[0]!;
        expect(report.kind).toBe('write-after-end');
        expect(report.endSite).toBe(endSite);
        expect(report.lateSite).toBe(lateSite);
        expect(agentWarnings(withAgent)).toEqual([]);
      });
    }

    it("non-string: the report's stacks are still readable text, not '[object Object]'", async () => {
      const result = await runFixture(file, 'require', { args: ['non-string'] });
      const report = result.reports[0]!;
      expect(report.lateStack).not.toBe('[object Object]');
      expect(report.lateStack).toContain(lateSite);
      expect(report.endStack).toContain(endSite);
    });
  });

  it('frozen, sealed and non-extensible streams: no crash, same behaviour, late calls still reported', async () => {
    const { without, withAgent } = await both('frozen-stream');
    expectSame(without, withAgent);
    expect(withAgent.reports.some((r) => r.kind === 'write-after-end')).toBe(true);
    expect(agentWarnings(withAgent)).toEqual([]);
  });

  it('what a program sees of the prototypes and globals: shared functions stay shared, the OpenTelemetry key is a data property once assigned', async () => {
    const { without, withAgent } = await both('reflection');
    // the same on every line as without the agent (which functions Node shares differs by line:
    // Duplex's destroy is Readable's on 20.6, writeHeader is no longer writeHead on 26)
    expectSame(without, withAgent);
    expect(withAgent.out[0]).toMatchObject({
      shared: [true, true, expect.any(Boolean)],
      otelKey: { descriptor: { writable: true, enumerable: true, configurable: true }, version: '1.9.0' },
    });
  });

  it('subclasses overriding write/end/destroy without super keep their own semantics', async () => {
    const { without, withAgent } = await both('subclass-no-super');
    expectSame(without, withAgent);
    expect(withAgent.out[0]).toMatchObject({ out: 'XY', got: { status: 200, body: 'first' } });
    expect(agentWarnings(withAgent)).toEqual([]);
  });

  it('streams from the readable-stream npm package behave identically', async () => {
    const { without, withAgent } = await both('readable-stream-pkg');
    expectSame(without, withAgent);
    expect(withAgent.out[0]).toMatchObject({ piped: 'xyz', pipelined: '1!2!', results: { pipeline: 'ok' } });
    expect(agentWarnings(withAgent)).toEqual([]);
  });

  it('null-prototype objects (and a revoked proxy) as objectMode chunks pass through untouched', async () => {
    const { without, withAgent } = await both('null-proto-chunks');
    expectSame(without, withAgent);
    expect(withAgent.out[0]).toMatchObject({ got: [1, 2], through: ['null-proto:5'] });
    expect(withAgent.reports.length).toBeGreaterThan(0);
    expect(agentWarnings(withAgent)).toEqual([]);
  });

  it('sealed stream/http prototypes and stream module (nothing wrappable): start() and the preload neither throw nor change behaviour', async () => {
    const file = fixture('frozen-prototypes');
    const [without, started, preloaded] = await Promise.all([
      runFixture(file, 'none', { args: ['no-start'] }),
      runFixture(file, 'none', { args: ['start'], env: { ENDGUARD_MODE: 'observe' } }),
      runFixture(file, 'require', { args: ['no-start'], env: { ENDGUARD_MODE: 'observe' } }),
    ]);
    expect(without.out[0]).toEqual({ seen: ['late:false', 'error:ERR_STREAM_WRITE_AFTER_END', 'pipeline:ok'] });
    expectSame(without, started);
    expectSame(without, preloaded);
    // start() after the sealing: exactly one line about the agent's own failure to wrap; the
    // preload wrapped before the app sealed anything: none
    expect(agentWarnings(started)).toEqual([expect.stringMatching(/^endguard: internal error in wrapping Writable\.write \(Cannot redefine property: write\)/)]);
    expect(agentWarnings(preloaded).filter((l) => /internal error|failed/.test(l))).toEqual([]);
  });

  it('the agent started programmatically after streams were created and ended', async () => {
    const file = fixture('late-start');
    const [without, started] = await Promise.all([
      runFixture(file, 'none', { args: ['no-start'] }),
      runFixture(file, 'none', { args: ['start'], env: { ENDGUARD_MODE: 'observe' } }),
    ]);
    expectSame(without, started);
    expect(started.stderr).toContain('started: observe');
    // a stream ended after start() gets both sites; one ended before has no end site, no crash
    const open = started.reports.find((r) => r.lateSite === markedSite(file, 'late', 'open.write'));
    expect(open?.endSite).toBe(markedSite(file, 'end', 'open.end'));
    expect(agentWarnings(started)).toEqual([]);
  });
});
