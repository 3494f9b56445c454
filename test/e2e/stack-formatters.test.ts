// Sites follow a stack formatter that maps positions itself (source-map-support; vite's module
// runner, which vitest runs every test file through): the report's sites are the lines its
// stacks show, not the generated code's.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, markedSite, runFixture } from '../support/run';

const FORMATTER = path.join(FIXTURES, 'ts', 'mapping-formatter.js');
const TS = path.join(FIXTURES, 'ts', 'missing-return.ts');

describe('a position-mapping Error.prepareStackTrace', () => {
  for (const preload of ['require', 'import'] as const) {
    it(`both sites are the original .ts lines, as in the stacks (--${preload})`, async () => {
      const run = await runFixture('ts/missing-return.js', preload, { nodeArgs: ['--require', FORMATTER] });
      expect(run.code, run.stderr).toBe(0);
      expect(run.reports).toHaveLength(1);
      const report = run.reports[0]!;
      const endSite = markedSite(TS, 'end', 'res.end');
      const lateSite = markedSite(TS, 'late', 'res.end');
      expect({ endSite: report.endSite, lateSite: report.lateSite, cause: report.cause }).toEqual({ endSite, lateSite, cause: 'missing-return' });
      expect(report.endStack).toContain(endSite);
      expect(report.lateStack).toContain(lateSite);
    });
  }
});

describe('a formatter that prints `${error}` as the header', () => {
  it("the report's stacks start with the error's own header, as Node's errors do", async () => {
    const run = await runFixture('missing-return.js', 'require', { nodeArgs: ['--require', path.join(FIXTURES, 'ts', 'tostring-formatter.js')] });
    expect(run.reports).toHaveLength(1);
    const report = run.reports[0]!;
    expect(report.endStack).toMatch(/^Error: end\(\) here\n {4}at /);
    expect(report.lateStack).toMatch(/^Error \[ERR_STREAM_WRITE_AFTER_END\]: write after end\n {4}at /);
    expect(report.endSite).toBe(markedSite('missing-return.js', 'end', 'res.end'));
  });
});
