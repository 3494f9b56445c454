// `endguard [options] -- <command>`: the CLI runs real commands (a node app, `npm test` of small
// fixture projects with vitest and with `node --test`), every Node process they start writes
// its reports as they happen, and the CLI prints one summary when the command exits.
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, NODE, REGISTER_CJS, ROOT, markedSite, runNode, type RunResult } from '../support/run';
import { parseXml, type XmlElement } from '../support/xml';

const CLI = path.join(ROOT, 'bin', 'endguard.js');
const DIR = path.join(FIXTURES, 'cli');
const APP = path.join(DIR, 'app.js');
const VITEST_PROJECT = path.join(DIR, 'vitest-project');
const NODE_TEST_PROJECT = path.join(DIR, 'node-test-project');

const [major = 0, minor = 0] = execFileSync(NODE, ['-p', 'process.versions.node']).toString().trim().split('.').map(Number);
// vite (under vitest 4) needs Node ^20.19 || >=22.12: below, the nested vitest project cannot run
const VITEST_SUPPORTED = major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19);

/** The Node under test first on PATH: `npm`, vitest and `node --test` in the fixture projects run on it too. */
const PATH_WITH_NODE = `${path.dirname(NODE)}${path.delimiter}${process.env.PATH ?? ''}`;

/** Variables of the vitest running this file: the nested vitest must not take itself for a worker of it. */
const OUTER_VITEST: Record<string, undefined> = Object.fromEntries(
  Object.keys(process.env)
    .filter((k) => k.startsWith('VITEST') || k === 'TEST' || k === 'TEST_NODE_BIN' || k === 'MATRIX_RESULTS')
    .map((k) => [k, undefined]),
);

function cli(args: string[], options: { env?: Record<string, string | undefined>; cwd?: string; bin?: string; timeoutMs?: number } = {}) {
  return runNode([options.bin ?? CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    timeoutMs: options.timeoutMs ?? 30_000,
    env: { ...OUTER_VITEST, PATH: PATH_WITH_NODE, ENDGUARD_LOG: undefined, ...options.env },
  });
}

/** A path as the CLI shows it (run from ROOT): relative inside the working directory, absolute outside. */
const rel = (file: string) => (file.startsWith(ROOT + path.sep) ? path.relative(ROOT, file) : file);
const site = (fixture: string, marker: string, call: string) => markedSite(fixture, marker, call);
const lineOf = (s: string) => Number(/:(\d+):\d+$/.exec(s)![1]);

/** The summary: stderr from the CLI's first line on. */
function summaryOf(run: RunResult): string {
  const at = run.stderr.search(/^endguard: (\d+ distinct violations?|no late writes|no Node process)/m);
  expect(at, run.stderr).toBeGreaterThanOrEqual(0);
  return run.stderr.slice(at);
}

/** The places listed on the summary's `seen in` lines, one list per violation. */
function seenIn(summary: string): string[][] {
  return [...summary.matchAll(/^ {2}seen in {9}(.*)$/gm)].map((m) => m[1]!.split(/, (?![^(]*\))/));
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'endguard-cli-test-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});
let counter = 0;
const tmpFile = (name: string) => path.join(tmp, `${++counter}-${name}`);
const jsonLines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, any>);

const APP_SITES = {
  missing: { end: site(APP, 'end-missing', 'res.end'), late: site(APP, 'late-missing', 'res.end') },
  late: { end: site(APP, 'end-late', 'res.end'), late: site(APP, 'late-late', 'res.end') },
};

describe('endguard -- node app.js', () => {
  it("keeps the app's output and exit code, prints one summary with both sites and their source, writes every report to --json", async () => {
    const json = tmpFile('reports.jsonl');
    const [run, alone] = await Promise.all([cli(['--json', json, '--', NODE, APP]), runNode([APP], { env: { ENDGUARD_LOG: undefined } })]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(alone.stdout);
    expect(run.out[0]!.client).toEqual([
      { status: 200, body: 'not found' },
      { status: 200, body: 'not found' },
      { status: 200, body: 'timeout' },
    ]);

    // the children's own pretty log is still there (the repeat within the dedupe window is counted, not printed)
    const blocks = run.stderr.split('\n').filter((l) => /^endguard: write-after-end on ServerResponse\.end\(\) \(ERR_STREAM_WRITE_AFTER_END\) \[mode=observe, capture=always\]$/.test(l));
    expect(blocks).toHaveLength(2);

    const reports = jsonLines(json);
    expect(reports.map((r) => [r.kind, r.cause, r.endSite, r.lateSite, r.count])).toEqual([
      ['write-after-end', 'missing-return', APP_SITES.missing.end, APP_SITES.missing.late, 1],
      ['write-after-end', 'missing-return', APP_SITES.missing.end, APP_SITES.missing.late, 2],
      ['write-after-end', 'late-callback', APP_SITES.late.end, APP_SITES.late.late, 1],
    ]);
    const pid = reports[0]!.process.pid as number;
    for (const r of reports) {
      expect(r).toMatchObject({ endguard: 1, type: 'ServerResponse', code: 'ERR_STREAM_WRITE_AFTER_END', method: 'end', mode: 'observe', test: null, allowedBy: null });
      expect(r.process).toEqual({ pid, threadId: 0, script: APP });
      expect(r.lateStack).toContain(r.lateSite);
    }

    const summary = summaryOf(run);
    const [head, first, second] = summary.split('\n\n');
    expect(head).toBe('endguard: 2 distinct violations (3 reports) in 1 of 1 Node process');
    expect(first!.split('\n')).toEqual([
      '1) write-after-end on ServerResponse.end() (ERR_STREAM_WRITE_AFTER_END): 2 times',
      `  ended at        ${rel(APP_SITES.missing.end)}`,
      `    ${lineOf(APP_SITES.missing.end)} |     res.end('not found'); // endguard:end-missing`,
      `       |         ^`,
      `  late call       ${rel(APP_SITES.missing.late)}`,
      `    ${lineOf(APP_SITES.missing.late)} |   res.end('found'); // endguard:late-missing`,
      `       |       ^`,
      `  cause: missing-return: ${reports[0]!.hint}`,
      `  seen in         node ${rel(APP)} (pid ${pid})`,
    ]);
    expect(second!.split('\n')[0]).toBe('2) write-after-end on ServerResponse.end() (ERR_STREAM_WRITE_AFTER_END): once');
    expect(second).toContain(`  late call       ${rel(APP_SITES.late.late)}`);
    expect(second).toContain(`  cause: late-callback: `);
  });

  it('--quiet: the children print no report lines, the summary is all', async () => {
    const run = await cli(['--quiet', '--', NODE, APP]);
    expect(run.code).toBe(0);
    expect(run.stderr).not.toContain('[mode=');
    expect(summaryOf(run)).toMatch(/^endguard: 2 distinct violations \(3 reports\) in 1 of 1 Node process\n/);
    expect(run.stderr.indexOf('endguard:')).toBe(run.stderr.indexOf(summaryOf(run)));
  });

  it('ENDGUARD_* settings as flags reach every child (--mode, --capture, --log, --stack-depth)', async () => {
    const json = tmpFile('flags.jsonl');
    const run = await cli(['--mode', 'enforce', '--capture=armed', '--log', 'json', '--stack-depth', '12', '--json', json, '--', NODE, APP]);
    expect(run.code).toBe(0);
    // the children log JSON lines (--log json) with the flags' mode and capture
    expect(run.reports.length).toBeGreaterThan(0);
    for (const r of [...run.reports, ...jsonLines(json)]) expect(r).toMatchObject({ mode: 'enforce', capture: 'armed' });
    // armed: the first report of each route has no end site
    expect(jsonLines(json)[0]!.endSite).toBeNull();
  });

  it('process.exit(n): the exit code passes through and no report is lost', async () => {
    const json = tmpFile('exit.jsonl');
    const run = await cli(['--json', json, '--', NODE, APP, '--exit', '3']);
    expect(run.code).toBe(3);
    expect(jsonLines(json)).toHaveLength(3);
    expect(summaryOf(run)).toMatch(/^endguard: 2 distinct violations \(3 reports\)/);
  });

  it('an app that crashes (uncaught ERR_STREAM_WRITE_AFTER_END): exit 1, its report is in the summary', async () => {
    const file = path.join(DIR, 'crash.js');
    const run = await cli(['--', NODE, file]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Error \[ERR_STREAM_WRITE_AFTER_END\]: write after end/);
    const summary = summaryOf(run);
    expect(summary).toMatch(/^endguard: 1 distinct violation \(1 report\) in 1 of 1 Node process\n/);
    expect(summary).toContain(`  ended at        ${rel(site(file, 'end', 'out.end'))}`);
    expect(summary).toContain(`  late call       ${rel(site(file, 'late', 'out.write'))}`);
  });

  it('an app killed by SIGKILL mid-run: exit 137 as a shell reports it, the report written before the kill is in the summary', async () => {
    const file = path.join(DIR, 'killed.js');
    const json = tmpFile('killed.jsonl');
    const run = await cli(['--json', json, '--', NODE, file]);
    expect({ code: run.code, signal: run.signal }).toEqual({ code: 137, signal: null });
    expect(run.stdout).not.toContain('not reached');
    expect(jsonLines(json).map((r) => [r.kind, r.endSite, r.lateSite])).toEqual([
      ['write-after-end', site(file, 'end', 'out.end'), site(file, 'late', 'out.write')],
    ]);
    expect(summaryOf(run)).toMatch(/^endguard: 1 distinct violation \(1 report\)/);
  });

  // a pseudo-terminal from util-linux's script(1): Ctrl-C typed into it reaches the whole foreground group
  const SCRIPT = ['/usr/bin/script', '/bin/script'].find((f) => existsSync(f));
  it.skipIf(SCRIPT === undefined)('Ctrl-C in a terminal reaches the command once, from the terminal: the CLI does not send it again', async () => {
    const file = path.join(DIR, 'two-ctrl-c.js');
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('ENDGUARD_') && k !== 'NODE_OPTIONS' && !(k in OUTER_VITEST)) env[k] = v;
    // exec: no shell between the terminal and the CLI (dash, as /bin/sh, exits 130 after a Ctrl-C it saw while waiting)
    const command = `exec ${[NODE, CLI, '--quiet', '--', NODE, file].map((a) => `'${a}'`).join(' ')}`;
    const child = spawn(SCRIPT!, ['-qec', command, '/dev/null'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    let out = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (c) => {
        out += c;
        if (out.includes('"ready":true')) resolve();
      }),
    );
    child.stdin.write('\x03');
    const code = await exited;
    clearTimeout(timer);
    expect(out).toContain('{"sigint":1}');
    expect(out).not.toContain('{"sigint":2}');
    expect(code, out).toBe(0);
  });

  for (const [title, args, expected] of [
    ['no handler: the child dies by SIGTERM, the CLI exits 143', [], { code: 143, stopped: false, reports: 1 }],
    ["the app's own SIGTERM handler: the CLI waits for it (a report written after the signal) and keeps its exit code", ['--handle'], { code: 3, stopped: true, reports: 2 }],
  ] as const) {
    it(`SIGTERM to the CLI is forwarded to the command, ${title}`, async () => {
      const file = path.join(DIR, 'waiting.js');
      const json = tmpFile('signal.jsonl');
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('ENDGUARD_') && k !== 'NODE_OPTIONS' && !(k in OUTER_VITEST)) env[k] = v;
      const child = spawn(NODE, [CLI, '--json', json, '--', NODE, file, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (c) => (stderr += c));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      await new Promise<void>((resolve) =>
        child.stdout.on('data', (c) => {
          stdout += c;
          if (stdout.includes('"ready":true')) resolve();
        }),
      );
      child.kill('SIGTERM');
      const code = await exited;
      clearTimeout(timer);
      expect(code, stderr).toBe(expected.code);
      expect(stdout.includes('"stopped":"SIGTERM"')).toBe(expected.stopped);
      const reports = jsonLines(json);
      expect(reports).toHaveLength(expected.reports);
      expect(reports[0]!.lateSite).toBe(site(file, 'late', 'out.write'));
      if (expected.stopped) expect(reports[1]).toMatchObject({ kind: 'double-end', lateSite: site(file, 'late-stop', 'out.end') });
    });
  }

  it('a flood past the report budget: every violation is accounted for, as a report or as counted', async () => {
    const file = path.join(DIR, 'flood.js');
    const json = tmpFile('flood.jsonl');
    const run = await cli(['--quiet', '--json', json, '--', NODE, file, '1000']);
    expect(run.code).toBe(0);
    const reports = jsonLines(json).length;
    const summary = summaryOf(run);
    expect(summary).toMatch(new RegExp(`^endguard: 1 distinct violation \\(${reports} reports\\) in 1 of 1 Node process\n`));
    const counted = new RegExp(
      `^endguard: (\\d+) more violations \\((\\d+) write-after-end\\) past the report budget of 100/s were only counted, without sites, in node ${rel(file)} \\(pid \\d+\\)$`,
      'm',
    ).exec(summary);
    expect(counted, summary).not.toBeNull();
    expect(reports + Number(counted![1])).toBe(1000);
    expect(counted![2]).toBe(counted![1]);
  });

  it('a worker thread inherits the preload: its report names the thread', async () => {
    const file = path.join(DIR, 'worker.js');
    const json = tmpFile('worker.jsonl');
    const run = await cli(['--json', json, '--', NODE, file]);
    expect(run.code).toBe(0);
    expect(run.out[0]).toEqual({ worker: 0 });
    const reports = jsonLines(json);
    expect(reports.map((r) => [r.lateSite, r.process.threadId])).toEqual([[site(file, 'late', 'out.write'), 1]]);
    expect(seenIn(summaryOf(run))).toEqual([[`node ${rel(file)} (pid ${reports[0]!.process.pid}, worker thread 1)`]]);
  });

  it('an ES module app is served by the same preload', async () => {
    const file = path.join(DIR, 'esm-app.mjs');
    const json = tmpFile('esm.jsonl');
    const run = await cli(['--json', json, '--', NODE, file]);
    expect(run.code).toBe(0);
    expect(run.out[0]).toEqual({ esm: true });
    expect(jsonLines(json).map((r) => r.lateSite)).toEqual([site(file, 'late', 'out.write')]);
  });

  it('does not load the agent into its own process', async () => {
    const run = await cli(['--quiet', '--', NODE, APP], { env: { NODE_OPTIONS: `--require ${path.join(DIR, 'loaded-modules.js')}` } });
    expect(run.code).toBe(0);
    // two exit lines: the app's (the agent is loaded there) and the CLI's own (nothing)
    const lines = run.out.filter((o) => 'cliLoadedAgent' in o).map((o) => o.cliLoadedAgent as string[]);
    expect(lines).toHaveLength(2);
    expect(lines.filter((l) => l.length === 0)).toHaveLength(1);
  });
});

describe('--check and --allow', () => {
  it('--check: exit 1 when the command passed with violations; the command own code when it failed; 0 when clean', async () => {
    const [dirty, failed, clean, cleanFailed, off] = await Promise.all([
      cli(['--check', '--quiet', '--', NODE, APP]),
      cli(['--check', '--quiet', '--', NODE, APP, '--exit', '4']),
      cli(['--check', '--quiet', '--', NODE, APP, '--clean']),
      cli(['--check', '--quiet', '--', NODE, APP, '--clean', '--exit', '3']),
      cli(['--check', '--quiet', '--mode', 'off', '--', NODE, APP]),
    ]);
    const last = (run: RunResult) => run.stderr.trimEnd().split('\n').pop();
    expect(dirty.code).toBe(1);
    expect(last(dirty)).toBe('endguard --check: failed, 2 violations not in the allow list; exit 1 although the command passed');
    expect(failed.code).toBe(4);
    expect(last(failed)).toBe("endguard --check: failed, 2 violations not in the allow list; exit 4 (the command's own)");
    expect(clean.code).toBe(0);
    expect(summaryOf(clean)).toBe('endguard: no late writes in 1 Node process\nendguard --check: passed, no violations\n');
    // the gate passed, the command did not: the line says whose exit code it is
    expect(cleanFailed.code).toBe(3);
    expect(last(cleanFailed)).toBe("endguard --check: passed, no violations; exit 3 (the command's own)");
    // --mode off patches nothing: the summary says so instead of blaming the environment
    expect(off.code).toBe(0);
    expect(off.stderr).toContain("endguard: --mode off: endguard patched nothing in the command's processes, so nothing was checked\n");
    // without --check, violations do not change the exit code
    expect((await cli(['--quiet', '--', NODE, APP])).code).toBe(0);
  });

  it('--allow: accepted violations pass the gate; the summary prints the entry for the others, ready to paste', async () => {
    const dir = mkdtempSync(path.join(tmp, 'allow-'));
    const allow = path.join(dir, 'endguard-allow.txt');
    const relApp = path.relative(dir, APP);
    const missing = `missing-return ${relApp}:${lineOf(APP_SITES.missing.end)} -> ${relApp}:${lineOf(APP_SITES.missing.late)}`;
    writeFileSync(allow, `# accepted\n${missing}\n`);
    const json = path.join(dir, 'reports.jsonl');
    const partial = await cli(['--check', '--quiet', '--allow', allow, '--json', json, '--', NODE, APP]);
    expect(partial.code).toBe(1);
    // every line says whether an entry accepts it
    expect(jsonLines(json).map((r) => r.allowedBy)).toEqual([`${rel(allow)}:2`, `${rel(allow)}:2`, null]);
    const summary = summaryOf(partial);
    expect(summary).toContain(`1) write-after-end on ServerResponse.end() (ERR_STREAM_WRITE_AFTER_END): 2 times [allowed by ${rel(allow)}:2]`);
    const printed = /^ {2}to allow it {5}(.*)$/m.exec(summary)?.[1];
    expect(printed).toBe(`late-callback ${relApp}:${lineOf(APP_SITES.late.end)} -> ${relApp}:${lineOf(APP_SITES.late.late)}`);
    expect(partial.stderr.trimEnd().split('\n').pop()).toBe(
      'endguard --check: failed, 1 violation not in the allow list (1 allowed); exit 1 although the command passed',
    );

    writeFileSync(allow, `${missing}\n${printed}\n`);
    const passed = await cli(['--check', '--quiet', '--allow', allow, '--', NODE, APP]);
    expect(passed.code).toBe(0);
    expect(passed.stderr.trimEnd().split('\n').pop()).toBe('endguard --check: passed, every violation is in the allow list (2 allowed)');
  });

  it('--allow: the suggested line for `node -e` code ([eval]) matches from an allow file in another directory', async () => {
    const dir = mkdtempSync(path.join(tmp, 'allow-eval-'));
    const sub = path.join(dir, 'sub');
    mkdirSync(sub);
    const code = "const s = new (require('stream').PassThrough)(); s.on('error', () => {}); s.end(); s.write('x');";
    const first = await cli(['--check', '--quiet', '--', NODE, '-e', code], { cwd: sub });
    expect(first.code).toBe(1);
    const suggested = /to allow it\s+(\S.*)$/m.exec(first.stderr)?.[1];
    expect(suggested, first.stderr).toBe('missing-return [eval]:1 -> [eval]:1');
    writeFileSync(path.join(dir, 'allow'), `${suggested}\n`);
    const run = await cli(['--check', '--quiet', '--allow', '../allow', '--', NODE, '-e', code], { cwd: sub });
    expect(run.stderr.trimEnd().split('\n').pop()).toBe('endguard --check: passed, every violation is in the allow list (1 allowed)');
    expect(run.code).toBe(0);
  });

  it('--allow: violations only counted past the report budget have no sites, so the allow list cannot pass them', async () => {
    const last = (run: RunResult) => run.stderr.trimEnd().split('\n').pop();
    const file = path.join(DIR, 'flood.js');
    const dir = mkdtempSync(path.join(tmp, 'allow-'));
    const allow = path.join(dir, 'allow');
    const relFlood = path.relative(dir, file);
    writeFileSync(allow, `missing-return ${relFlood}:${lineOf(site(file, 'end', 'out.end'))} -> ${relFlood}:${lineOf(site(file, 'late', 'out.write'))}\n`);
    const junit = path.join(dir, 'endguard.xml');
    const run = await cli(['--check', '--quiet', '--allow', allow, '--junit', junit, '--', NODE, file, '1000']);
    expect(run.code).toBe(1);
    expect(last(run)).toMatch(
      /^endguard --check: failed, \d+ violations past the report budget, only counted, without sites to check against the allow list \(1 allowed\); exit 1 although the command passed$/,
    );
    // the JUnit file fails as the gate does: the counted violations are a failing case of their own
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testsuites name="endguard" tests="2" failures="1" errors="0" skipped="1"/);
    expect(xml).toMatch(/<testcase classname="endguard\.counted" name="\d+ more violations \(\d+ write-after-end\) past the report budget of 100\/s were only counted, without sites, in node [^"]*flood\.js \(pid \d+\)" time="0">\n {6}<failure /);
    // under the budget every violation has its sites: the same entry passes the gate
    const small = await cli(['--check', '--quiet', '--allow', allow, '--', NODE, file, '20']);
    expect(small.code).toBe(0);
    expect(last(small)).toBe('endguard --check: passed, every violation is in the allow list (1 allowed)');
  });

  it('--allow: lines match exactly (a moved call is not accepted), a path alone accepts any line, `*` anything; unused entries are named', async () => {
    const dir = mkdtempSync(path.join(tmp, 'allow-'));
    const allow = path.join(dir, 'allow');
    const relApp = path.relative(dir, APP);
    writeFileSync(
      allow,
      [
        `missing-return ${relApp}:${lineOf(APP_SITES.missing.end)} -> ${relApp}:${lineOf(APP_SITES.missing.late) + 1}`, // moved by one line: no
        `late-callback * -> ${relApp}`, // any end site, any late line of app.js
        `* - -> *`, // no end site at all: matches nothing here
      ].join('\n'),
    );
    const run = await cli(['--check', '--quiet', '--allow', allow, '--', NODE, APP]);
    expect(run.code).toBe(1);
    const summary = summaryOf(run);
    expect(summary).toMatch(/^1\) .*: 2 times$/m);
    expect(summary).toMatch(new RegExp(`^2\\) .*: once \\[allowed by ${rel(allow)}:2\\]$`, 'm'));
    expect(summary).toContain(`endguard: allow list entries that matched nothing (remove them?): ${rel(allow)}:1, ${rel(allow)}:3`);
  });

  it('a malformed allow list stops the CLI before the command runs (exit 2, the line named)', async () => {
    const allow = tmpFile('bad-allow');
    writeFileSync(allow, '# fine\nmissing-return app.js:3\n');
    const run = await cli(['--check', '--allow', allow, '--', NODE, APP]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`endguard: --allow ${rel(allow)}:2: expected "<cause> <end site> -> <late site>", got "missing-return app.js:3"\n`);
  });
});

describe('--junit', () => {
  function cases(root: XmlElement): XmlElement[] {
    expect(root.name).toBe('testsuites');
    expect(root.children.map((c) => c.name)).toEqual(['testsuite']);
    return root.children[0]!.children;
  }

  it('one failing test case per distinct violation, skipped when allowed; valid XML written atomically (parent dirs made)', async () => {
    const dir = mkdtempSync(path.join(tmp, 'junit-'));
    const junit = path.join(dir, 'reports', 'endguard.xml');
    const allow = path.join(dir, 'allow');
    writeFileSync(allow, `late-callback * -> ${APP}\n`);
    const run = await cli(['--quiet', '--junit', junit, '--allow', allow, '--', NODE, APP]);
    expect(run.code).toBe(0);
    expect(readdirSync(path.dirname(junit))).toEqual(['endguard.xml']); // no temporary file left
    const xml = readFileSync(junit, 'utf8');
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).toBe(true);
    const root = parseXml(xml);
    expect(root.attributes).toMatchObject({ name: 'endguard', tests: '2', failures: '1', errors: '0', skipped: '1' });
    expect(root.children[0]!.attributes).toMatchObject({ tests: '2', failures: '1', errors: '0', skipped: '1' });
    const [failing, allowed] = cases(root);
    expect(failing!.attributes).toEqual({
      classname: 'endguard.write-after-end',
      name: `missing-return: ${rel(APP_SITES.missing.end)} -> ${rel(APP_SITES.missing.late)}`,
      file: rel(APP),
      line: String(lineOf(APP_SITES.missing.late)),
      time: '0',
    });
    const failure = failing!.children[0]!;
    expect(failure.name).toBe('failure');
    expect(failure.attributes.type).toBe('ERR_STREAM_WRITE_AFTER_END');
    expect(failure.attributes.message).toMatch(/^write-after-end on ServerResponse\.end\(\) \(ERR_STREAM_WRITE_AFTER_END\): missing-return: return after res\.end/);
    // the body: the summary block (source excerpt included) and both stacks
    expect(failure.text).toContain("res.end('found'); // endguard:late-missing");
    expect(failure.text).toContain(`Error [ERR_STREAM_WRITE_AFTER_END]: write after end\n    at `);
    expect(failure.text).toContain(APP_SITES.missing.end);
    expect(allowed!.attributes.name).toBe(`late-callback: ${rel(APP_SITES.late.end)} -> ${rel(APP_SITES.late.late)}`);
    expect(allowed!.children.map((c) => [c.name, c.attributes.message])).toEqual([['skipped', `allowed by ${rel(allow)}:1`]]);
  });

  it('no violation: one passing test case (CI renderers reject a report without any)', async () => {
    const junit = tmpFile('clean.xml');
    const run = await cli(['--quiet', '--junit', junit, '--', NODE, APP, '--clean']);
    expect(run.code).toBe(0);
    const root = parseXml(readFileSync(junit, 'utf8'));
    expect(root.attributes).toMatchObject({ tests: '1', failures: '0', skipped: '0' });
    expect(cases(root).map((c) => [c.attributes.name, c.children.length])).toEqual([['no late writes', 0]]);
  });
});

describe('NODE_OPTIONS and a second copy of endguard', () => {
  // a copy of the package installed at a path with spaces (its dependencies: the repository's)
  let copy: string;
  let userPreload: string;
  beforeAll(() => {
    copy = path.join(tmp, 'node modules with "quotes", \\back\\slashes and spaces', 'endguard');
    mkdirSync(copy, { recursive: true });
    for (const entry of ['dist', 'bin', 'register.cjs', 'register.mjs', 'package.json']) cpSync(path.join(ROOT, entry), path.join(copy, entry), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
    userPreload = path.join(tmp, 'my preloads', 'user-preload.js');
    mkdirSync(path.dirname(userPreload), { recursive: true });
    cpSync(path.join(DIR, 'user-preload.js'), userPreload);
  });

  it("keeps the user's NODE_OPTIONS and appends the preload, quoted (paths with spaces, quotes and backslashes)", async () => {
    const json = tmpFile('node-options.jsonl');
    const userOptions = `--require "${userPreload}" --no-deprecation`;
    const run = await cli(['--json', json, '--', NODE, APP], { bin: path.join(copy, 'bin', 'endguard.js'), env: { NODE_OPTIONS: userOptions } });
    expect(run.code, run.stderr).toBe(0);
    const preloads = run.out.filter((o) => o.userPreload === true).map((o) => o.nodeOptions);
    const appended = `${userOptions} --require "${path.join(copy, 'register.cjs').replace(/["\\]/g, (c) => '\\' + c)}"`;
    // the CLI's own process (the user's options only), then the app (the user's, endguard's appended)
    expect(preloads).toEqual([userOptions, appended]);
    expect(jsonLines(json).map((r) => r.lateSite)).toEqual([APP_SITES.missing.late, APP_SITES.missing.late, APP_SITES.late.late]);
  });

  it("the app's own --require endguard/register as well: one report per violation", async () => {
    const json = tmpFile('twice.jsonl');
    const run = await cli(['--log', 'json', '--json', json, '--', NODE, '--require', REGISTER_CJS, APP]);
    expect(run.code).toBe(0);
    // the child's own log: each distinct violation printed once (the repeat is counted within the dedupe window)
    expect(run.reports.map((r) => r.lateSite)).toEqual([APP_SITES.missing.late, APP_SITES.late.late]);
    expect(jsonLines(json)).toHaveLength(3);
    expect(run.stderr).not.toContain('another copy');
  });

  it('the app loads another installed copy: that one stays inactive, one report per violation', async () => {
    const json = tmpFile('copy.jsonl');
    const run = await cli(['--log', 'json', '--json', json, '--', NODE, '--require', path.join(copy, 'register.cjs'), APP]);
    expect(run.code).toBe(0);
    expect(run.reports.map((r) => r.lateSite)).toEqual([APP_SITES.missing.late, APP_SITES.late.late]);
    expect(jsonLines(json)).toHaveLength(3);
    expect(run.stderr.split('\n').filter((l) => l.includes('another copy'))).toHaveLength(1);
  });
});

describe('endguard -- npm test (fixture projects on the repository node_modules)', () => {
  it.runIf(VITEST_SUPPORTED)('vitest: the tests pass, --check fails the run, the summary and the JUnit file name the test files', async () => {
    const lib = path.join(VITEST_PROJECT, 'lib.mjs');
    const junit = tmpFile('vitest.xml');
    const run = await cli(['--check', '--quiet', '--junit', junit, '--', 'npm', 'test'], { cwd: VITEST_PROJECT, timeoutMs: 60_000 });
    expect(run.stdout).toMatch(/Tests\s+.*2 passed/);
    expect(run.code, run.stderr).toBe(1);
    const summary = summaryOf(run);
    expect(summary).toMatch(/^endguard: 2 distinct violations \(3 reports\) in \d+ of \d+ Node processes\n/);
    // both sites in the test files' own code, as the user wrote it (vitest transforms it)
    expect(summary).toContain(`  ended at        lib.mjs:${lineOf(site(lib, 'end-write', 'out.end'))}:7\n    ${lineOf(site(lib, 'end-write', 'out.end'))} |   out.end('done');`);
    expect(summary).toContain(`  second end      lib.mjs:${lineOf(site(lib, 'late-twice', 'out.end'))}:7`);
    const [writeSeen, twiceSeen] = seenIn(summary);
    expect(new Set(writeSeen)).toEqual(new Set(['a.test.mjs', 'b.test.mjs']));
    expect(twiceSeen).toEqual(['b.test.mjs']);
    const root = parseXml(readFileSync(junit, 'utf8'));
    expect(root.attributes).toMatchObject({ tests: '2', failures: '2' });
    expect(root.children[0]!.children.map((c) => [c.attributes.classname, c.attributes.file, c.attributes.line])).toEqual([
      ['endguard.write-after-end', 'lib.mjs', String(lineOf(site(lib, 'late-write', 'out.write')))],
      ['endguard.double-end', 'lib.mjs', String(lineOf(site(lib, 'late-twice', 'out.end')))],
    ]);
    expect(existsSync(path.join(VITEST_PROJECT, 'node_modules'))).toBe(false); // nothing written into the fixture
  });

  it('node --test: one process per test file and a worker thread; the exit code is the runner\'s', async () => {
    const lib = path.join(NODE_TEST_PROJECT, 'lib.js');
    const json = tmpFile('node-test.jsonl');
    const run = await cli(['--quiet', '--json', json, '--', 'npm', 'test'], { cwd: NODE_TEST_PROJECT, timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(0);
    const reports = jsonLines(json);
    expect(reports.map((r) => [r.endSite, r.lateSite])).toEqual(Array(3).fill([site(lib, 'end', 'out.end'), site(lib, 'late', 'out.write')]));
    // late-test.js: a name node --test finds by default, though not *.test.js
    const files = ['one.test.js', 'two.test.js', 'late-test.js'].map((f) => path.join(NODE_TEST_PROJECT, 'test', f));
    expect(new Set(reports.map((r) => r.test))).toEqual(new Set(files));
    expect(new Set(reports.map((r) => r.process.pid)).size).toBe(3);
    const summary = summaryOf(run);
    expect(summary).toMatch(/^endguard: 1 distinct violation \(3 reports\) in 3 of \d+ Node processes\n/);
    expect(new Set(seenIn(summary)[0])).toEqual(new Set(['test/one.test.js', 'test/two.test.js (worker thread 1)', 'test/late-test.js']));
  });

  it('the demo runs through the CLI: npm run demo, every cause in one summary', async () => {
    const run = await cli(['--quiet', '--check', '--', 'npm', 'run', 'demo'], { timeoutMs: 60_000 });
    expect(run.code).toBe(1);
    expect(summaryOf(run)).toMatch(/^endguard: 8 distinct violations \(8 reports\) in 1 of 2 Node processes\n/);
  });
});

describe('the command line itself', () => {
  it('--help lists every ENDGUARD_* setting as a flag', async () => {
    const run = await cli(['--help']);
    expect(run.code).toBe(0);
    for (const flag of ['--check', '--allow', '--json', '--junit', '--quiet', '--mode', '--log', '--capture', '--stack-depth', '--rate-limit', '--dedupe-window']) {
      expect(run.stdout).toMatch(new RegExp(`^  (-\\w, )?${flag} `, 'm'));
    }
    expect(run.stdout).toContain('ENDGUARD_MODE: observe, enforce, strict, off');
  });

  for (const [args, message] of [
    [['--mode', 'strcit', '--', 'node'], 'endguard: invalid --mode "strcit": allowed values are observe, enforce, strict, off (see endguard --help)'],
    [['--stack-depth=0', 'node'], 'endguard: invalid --stack-depth "0": allowed values are integers 1..100 (see endguard --help)'],
    [['--frobnicate', '--', 'node'], 'endguard: unknown option "--frobnicate" (see endguard --help)'],
    [['--check'], 'endguard: no command given (see endguard --help)'],
    [['--json'], 'endguard: --json needs a value (see endguard --help)'],
    // the next option is not a file name: a file named --check would turn the gate off
    [['--junit', '--check', '--', 'node'], 'endguard: --junit needs a value, not the option "--check" (--junit=<value> for one that starts with -) (see endguard --help)'],
    [['--json', '--', 'node'], 'endguard: --json needs a value, not the option "--" (--json=<value> for one that starts with -) (see endguard --help)'],
    [['--quiet', '--log', 'json', 'node'], "endguard: --quiet turns the children's log off; it contradicts --log json (see endguard --help)"],
  ] as const) {
    it(`usage error, exit 2: ${args.join(' ')}`, async () => {
      const run = await cli([...args]);
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(message + '\n');
    });
  }

  it('a command that cannot be found: exit 127, as a shell', async () => {
    const run = await cli(['--', 'endguard-no-such-command']);
    expect(run.code).toBe(127);
    expect(run.stderr).toBe('endguard: cannot run "endguard-no-such-command": command not found\n');
  });
});
