// The CLI's pure parts, in process: argument parsing, the allow list, JUnit escaping.
import { describe, expect, it } from 'vitest';
import type { ViolationReport } from '../../src/types';
import { readConfig } from '../../src/config';
import { parseArgs } from '../../src/cli/args';
import { allowedBy, allowLine, parseAllowList } from '../../src/cli/allow';
import type { CollectedReport, WatchedProcess } from '../../src/cli/collect';
import { processLabel } from '../../src/cli/origin';
import { nodeOptionsWith } from '../../src/cli/environment';
import { formatJunit } from '../../src/cli/junit';
import type { Violation } from '../../src/cli/summary';
import { parseXml } from '../support/xml';

function report(overrides: Partial<ViolationReport> = {}): ViolationReport {
  return {
    endguard: 1,
    kind: 'write-after-end',
    type: 'ServerResponse',
    code: 'ERR_STREAM_WRITE_AFTER_END',
    method: 'end',
    endMethod: 'end',
    endStack: 'Error: end() here\n    at /app/src/a.js:10:5',
    endSite: '/app/src/a.js:10:5',
    lateStack: 'Error [ERR_STREAM_WRITE_AFTER_END]: write after end\n    at /app/src/a.js:12:5',
    lateSite: '/app/src/a.js:12:5',
    cause: 'missing-return',
    hint: 'return after res.end(...)',
    count: 1,
    mode: 'observe',
    capture: 'always',
    ...overrides,
  };
}

describe('arguments', () => {
  it('options end at -- or at the first argument that is not one; the rest is the command', () => {
    const a = parseArgs(['--check', '--mode=strict', 'node', 'app.js', '--check']);
    expect(a).toEqual({ options: expect.objectContaining({ check: true, command: ['node', 'app.js', '--check'], settings: { ENDGUARD_MODE: 'strict' } }) });
    const b = parseArgs(['--json', 'out.jsonl', '--', '--weird-command']);
    expect(b).toEqual({ options: expect.objectContaining({ json: 'out.jsonl', command: ['--weird-command'] }) });
  });
  it('setting values are normalised as the environment reads them', () => {
    expect(parseArgs(['--mode', ' STRICT ', '--dedupe-window', '0', 'x'])).toEqual({
      options: expect.objectContaining({ settings: { ENDGUARD_MODE: 'strict', ENDGUARD_DEDUPE_WINDOW: '0' } }),
    });
  });
});

describe('ENDGUARD_REPORT_DIR (set by the CLI for its children)', () => {
  it('a known variable; an absolute path is used, anything else ignored with one warning', () => {
    expect(readConfig({ ENDGUARD_REPORT_DIR: '/tmp/endguard-x' })).toMatchObject({ reportDir: '/tmp/endguard-x', warnings: [] });
    const relative = readConfig({ ENDGUARD_REPORT_DIR: 'reports' });
    expect(relative.reportDir).toBeNull();
    expect(relative.warnings).toEqual(['endguard: ignoring ENDGUARD_REPORT_DIR="reports": must be an absolute path (it is set by the endguard CLI)']);
    expect(readConfig({}).reportDir).toBeNull();
  });
});

describe('NODE_OPTIONS', () => {
  it("appends to the user's options; quotes what Node's parser would split or unescape", () => {
    expect(nodeOptionsWith(undefined, '/a/register.cjs')).toBe('--require "/a/register.cjs"');
    expect(nodeOptionsWith('  ', '/a/register.cjs')).toBe('--require "/a/register.cjs"');
    expect(nodeOptionsWith('--max-old-space-size=100', '/my dir/"x"\\y/register.cjs')).toBe('--max-old-space-size=100 --require "/my dir/\\"x\\"\\\\y/register.cjs"');
  });
});

describe('allow list', () => {
  it('parses cause, sites (a column is ignored), `-`, `*`, a file alone; paths relative to the list', () => {
    const list = parseAllowList('# c\n\nmissing-return src/a.js:10:3 -> src/a.js:12\nclient-disconnect - -> lib/x.js\n* * -> *\n', 'allow', '/app');
    expect(list).toEqual([
      { where: 'allow:3', cause: 'missing-return', end: { kind: 'file', file: '/app/src/a.js', line: 10 }, late: { kind: 'file', file: '/app/src/a.js', line: 12 } },
      { where: 'allow:4', cause: 'client-disconnect', end: { kind: 'none' }, late: { kind: 'file', file: '/app/lib/x.js', line: null } },
      { where: 'allow:5', cause: '*', end: { kind: 'any' }, late: { kind: 'any' } },
    ]);
    expect(allowedBy(list, report())?.where).toBe('allow:3');
    expect(allowedBy(list.slice(0, 1), report({ lateSite: '/app/src/a.js:13:5' }))).toBeUndefined();
    expect(allowedBy(list.slice(0, 1), report({ cause: 'late-callback' }))).toBeUndefined();
    expect(allowedBy(list.slice(1, 2), report({ cause: 'client-disconnect', endSite: null, lateSite: '/app/lib/x.js:99:1' }))?.where).toBe('allow:4');
    expect(allowedBy(list.slice(1, 2), report({ cause: 'client-disconnect' }))).toBeUndefined(); // has an end site
  });
  it('a malformed line names itself', () => {
    expect(() => parseAllowList('missing-return a.js:1 a.js:2', 'allow', '/app')).toThrow('allow:1: expected "<cause> <end site> -> <late site>"');
    expect(() => parseAllowList('Missing a.js -> b.js', 'allow', '/app')).toThrow('allow:1');
    expect(() => parseAllowList('x a.js -> b.js -> c.js', 'allow', '/app')).toThrow('allow:1');
  });
  it('the line printed for a report parses back into an entry that accepts it', () => {
    const r = report();
    const line = allowLine(r, '/app');
    expect(line).toBe('missing-return src/a.js:10 -> src/a.js:12');
    expect(allowedBy(parseAllowList(line, 'allow', '/app'), r)).toBeDefined();
    expect(allowLine(report({ endSite: null }), '/elsewhere')).toBe('missing-return - -> ../app/src/a.js:12');
  });
});

describe('JUnit', () => {
  it('escapes markup and drops what XML 1.0 cannot carry; the file parses', () => {
    const proc: WatchedProcess = { pid: 1, ppid: 0, threadId: 0, script: '/app/a.js', node: 'v24', mainThread: null, counted: {} };
    const hostile = report({ hint: 'a & b < c > d "e" \'f\' ]]> \u0000\u001b[31m', lateStack: 'Error [X]: <script>\u0007' });
    const entry: CollectedReport = { t: 0, report: hostile, process: proc };
    const v: Violation = { first: entry, reports: [entry], seenIn: ['node a.js (pid 1)'], allowedBy: null };
    const root = parseXml(formatJunit({ violations: [v], counted: [], cwd: '/app', seconds: 1.5, timestamp: new Date(0) }));
    const failure = root.children[0]!.children[0]!.children[0]!;
    expect(failure.attributes.message).toContain('a & b < c > d "e" \'f\' ]]> [31m');
    expect(failure.text).toContain('Error [X]: <script>');
    expect(root.children[0]!.attributes).toMatchObject({ time: '1.500', timestamp: '1970-01-01T00:00:00' });
  });
});

describe('the process a report came from', () => {
  const proc = (script: string | null, threadId = 0): WatchedProcess => ({ pid: 12, ppid: 1, threadId, script, node: 'v24', mainThread: null, counted: {} });
  it('names the script, the package whose bin it is, or the tool behind a node_modules/.bin link', () => {
    expect(processLabel(proc('/app/src/server.js'), '/app')).toBe('node src/server.js (pid 12)');
    expect(processLabel(proc('/app/node_modules/vitest/vitest.mjs'), '/app')).toBe('vitest (pid 12)');
    expect(processLabel(proc('/app/node_modules/@scope/runner/bin/run.js'), '/app')).toBe('@scope/runner (pid 12)');
    // npm scripts and npx start jest and mocha through their .bin links
    expect(processLabel(proc('/app/node_modules/.bin/jest'), '/app')).toBe('jest (pid 12)');
    expect(processLabel(proc('/app/node_modules/.bin/mocha', 2), '/app')).toBe('mocha (pid 12, worker thread 2)');
    expect(processLabel(proc(null), '/app')).toBe('node (pid 12)');
  });
});
