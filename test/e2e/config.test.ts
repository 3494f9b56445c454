// Bad input: every ENDGUARD_* variable with an empty, unknown, huge (100 KB) and non-ASCII
// value → exactly one warning line naming the variable and its allowed values, the default is
// used, and the program runs as it would without the agent.
import { beforeAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { runFixture, type RunResult } from '../support/run';

const PROBE = path.join('faults', 'config-probe.js');

// The defaults are whatever the agent runs with when no ENDGUARD_* variable is set (read once in beforeAll).
let DEFAULTS: Record<string, unknown> = {};

const VARIABLES: { name: string; key: string; allowed: RegExp }[] = [
  { name: 'ENDGUARD_MODE', key: 'mode', allowed: /observe, enforce, strict, off/ },
  { name: 'ENDGUARD_LOG', key: 'log', allowed: /pretty, json, off/ },
  { name: 'ENDGUARD_CAPTURE', key: 'capture', allowed: /always, budget, armed/ },
  { name: 'ENDGUARD_CAPTURE_BUDGET', key: 'captureBudget', allowed: /numbers 0\.1\.\.1000/ },
  { name: 'ENDGUARD_STACK_DEPTH', key: 'stackDepth', allowed: /integers? \d+\s*(\.\.|-|to)\s*\d+/ },
  { name: 'ENDGUARD_RATE_LIMIT', key: 'rateLimit', allowed: /integers? \d+\s*(\.\.|-|to)\s*\d+/ },
  { name: 'ENDGUARD_DEDUPE_WINDOW', key: 'dedupeWindow', allowed: /integers? \d+\s*(\.\.|-|to)\s*\d+/ },
];

const VALUES: Record<string, string> = {
  empty: '',
  unknown: 'bogus-value',
  huge: 'x'.repeat(100 * 1024),
  'non-ASCII': 'obsérve✓ 日本 １０',
};

/** endguard's configuration warnings: its stderr lines that name an ENDGUARD_* variable (pretty reports do not). */
function agentLines(result: RunResult): string[] {
  return result.stderr.split('\n').filter((l) => l.startsWith('endguard:') && l.includes('ENDGUARD_'));
}

function expectHealthy(result: RunResult) {
  expect(result.code, result.stderr.slice(0, 2000)).toBe(0);
  expect(result.signal).toBeNull();
  expect(result.stderr).not.toMatch(/failed to start|internal error/);
  const out = result.out[0]!;
  expect(out.seen).toEqual(['ERR_STREAM_WRITE_AFTER_END']);
  return out.config as Record<string, unknown>;
}

describe('bad ENDGUARD_* values: one warning each, defaults, no crash', () => {
  beforeAll(async () => {
    const clean = await runFixture(PROBE, 'require', { env: { ENDGUARD_LOG: undefined } });
    DEFAULTS = expectHealthy(clean);
    expect(agentLines(clean)).toEqual([]);
    expect(Object.keys(DEFAULTS)).toEqual(expect.arrayContaining(VARIABLES.map((v) => v.key)));
  });

  for (const variable of VARIABLES) {
    for (const [label, value] of Object.entries(VALUES)) {
      it(`${variable.name} ${label}`, async () => {
        // ENDGUARD_LOG is left unset (not json) only when it is the variable under test
        const env: Record<string, string | undefined> = { [variable.name]: value };
        const result = await runFixture(PROBE, 'require', { env });
        const config = expectHealthy(result);
        expect(config[variable.key]).toEqual(DEFAULTS[variable.key]);
        const warnings = agentLines(result);
        const about = warnings.filter((l) => l.includes(variable.name));
        expect(about, result.stderr.slice(0, 2000)).toHaveLength(1);
        const line = about[0]!;
        expect(line).toMatch(variable.allowed);
        // bounded and printable: a 100 KB or non-ASCII value is never echoed raw
        expect(line.length).toBeLessThan(400);
        expect(line).toMatch(/^[\x20-\x7e]*$/);
        // no other warning than this one
        expect(warnings.filter((l) => /ignoring|unknown|invalid/.test(l))).toHaveLength(1);
      });
    }
  }

  it('an unknown ENDGUARD_FOO variable → one warning naming it; defaults', async () => {
    const result = await runFixture(PROBE, 'require', { env: { ENDGUARD_FOO: '1' } });
    const config = expectHealthy(result);
    expect(config).toMatchObject({ ...DEFAULTS, log: 'json' });
    const about = agentLines(result).filter((l) => l.includes('ENDGUARD_FOO'));
    expect(about).toHaveLength(1);
    expect(about[0]).toMatch(/ENDGUARD_MODE/); // names the known variables
  });

  it('unknown variables with huge or non-ASCII names → one bounded, printable warning each', async () => {
    const weird = 'ENDGUARD_ÜBER_日本';
    const long = 'ENDGUARD_' + 'Y'.repeat(10_000);
    const result = await runFixture(PROBE, 'require', { env: { [weird]: 'x', [long]: 'y' } });
    expectHealthy(result);
    const lines = agentLines(result);
    expect(lines, result.stderr).toHaveLength(2);
    for (const line of lines) {
      expect(line.length).toBeLessThan(400);
      expect(line).toMatch(/^[\x20-\x7e]*$/);
    }
  });

  it('every variable bad at once, preloaded with --require AND --import → still one warning each', async () => {
    const env: Record<string, string> = { ENDGUARD_FOO: 'bar' };
    for (const v of VARIABLES) env[v.name] = 'bogus';
    const result = await runFixture(PROBE, 'require', { env, nodeArgs: ['--import', path.join(__dirname, '..', '..', 'register.mjs')] });
    const config = expectHealthy(result);
    expect(config).toEqual(DEFAULTS);
    for (const v of [...VARIABLES.map((x) => x.name), 'ENDGUARD_FOO']) {
      // the variable a line is about is the first one it names (the unknown-variable line lists the known ones after)
      expect(agentLines(result).filter((l) => /ENDGUARD_[A-Z_]+/.exec(l)?.[0] === v), v).toHaveLength(1);
    }
    expect(agentLines(result).filter((l) => /ignoring/.test(l))).toHaveLength(VARIABLES.length + 1);
  });

  it('a valid but oddly written value (case, spaces) is accepted without a warning', async () => {
    const result = await runFixture(PROBE, 'require', { env: { ENDGUARD_MODE: ' Observe ', ENDGUARD_RATE_LIMIT: ' 20 ' } });
    const config = expectHealthy(result);
    expect(config).toMatchObject({ mode: 'observe', rateLimit: 20 });
    expect(agentLines(result)).toEqual([]);
  });
});
