#!/usr/bin/env node
// Runs Node's own web-streams tests twice — without endguard and with it preloaded
// (NODE_OPTIONS="--require <root>/register.cjs", observe mode, ENDGUARD_LOG=json) — and
// compares every outcome:
//   - test/parallel/test-webstream*.js|mjs and test-whatwg-*stream*.js|mjs: exit code and signal
//     (Node's runner judges a test by them), each file run with the flags of its `// Flags:` line;
//   - the Web Platform Tests' streams suite as Node runs it (test/wpt/test-streams.js): every
//     subtest's status line ([PASS] / [EXPECTED_FAILURE][FAIL] / [UNEXPECTED_FAILURE]…).
//
//   node scripts/node-webstreams-suite.mjs [--node <bin>] [--git-dir <dir>] [--ref <rev>]
//        [--scratch <dir>] [--no-wpt] [--jobs <n>]
//
// Source: a git directory holding Node's test/ tree — a nodejs/node mirror, or
// denoland/node_test, which vendors Node's whole test/ directory once per Node release (the
// `fetch` tool leaves it at /work/.mirror/denoland+node_test/repo, the default). --ref picks the
// commit; by default the tag v<version of --node> if the repository has it, else the newest
// commit whose node_version.ts has the same major (else the nearest older one). Only test/common,
// test/fixtures/wpt, the selected tests and the WPT runner files are extracted (git archive), into a
// scratch directory OUTSIDE this repository (default /work/scratch/webstreams-suite/<ref>); nothing
// fetched is ever committed.
//
// Output: a table (one row per file), the differences, and a last line
//   parity: N passed, M failed
// where N = files (and WPT subtests) with the identical outcome in both runs, M = those whose
// outcome differs. M must be 0. Exit code 0 when M = 0, 1 otherwise, 2 on a setup error.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REGISTER = path.join(ROOT, 'register.cjs');
const TEST_FILE = /^test\/parallel\/test-(webstream|whatwg-[^/]*stream)[^/]*\.(js|mjs)$/;
const TIMEOUT_MS = 240_000;

function fail(message) {
  console.error(`node-webstreams-suite: ${message}`);
  process.exit(2);
}

function args() {
  const argv = process.argv.slice(2);
  const options = { node: process.execPath, gitDir: '/work/.mirror/denoland+node_test/repo', ref: undefined, scratch: undefined, wpt: true, jobs: Math.max(1, Math.min(4, os.availableParallelism?.() ?? 2)) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--node') options.node = argv[++i];
    else if (a === '--git-dir') options.gitDir = argv[++i];
    else if (a === '--ref') options.ref = argv[++i];
    else if (a === '--scratch') options.scratch = argv[++i];
    else if (a === '--no-wpt') options.wpt = false;
    else if (a === '--jobs') options.jobs = Number(argv[++i]);
    else fail(`unknown argument ${a}; usage: node-webstreams-suite.mjs [--node bin] [--git-dir dir] [--ref rev] [--scratch dir] [--no-wpt] [--jobs n]`);
  }
  // the tests run from the scratch directory
  if (options.node.includes(path.sep)) options.node = path.resolve(options.node);
  return options;
}

function git(gitDir, ...argv) {
  const r = spawnSync('git', ['--git-dir', gitDir, ...argv], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) return null;
  return r.stdout;
}

/** The test tree matching the Node under test: its tag, or the vendored release with the same major. */
function pickRef(gitDir, version) {
  if (git(gitDir, 'rev-parse', '--verify', '--quiet', `refs/tags/v${version}`) !== null) return { ref: `v${version}`, tests: version };
  const major = Number(version.split('.')[0]);
  const commits = (git(gitDir, 'log', '--format=%H', 'HEAD', '--', 'node_version.ts') ?? '').trim().split('\n').filter(Boolean);
  let best = null;
  for (const commit of commits) {
    const text = git(gitDir, 'show', `${commit}:node_version.ts`) ?? '';
    const found = /version\s*=\s*"(\d+)\.(\d+)\.(\d+)"/.exec(text);
    if (found === null) continue;
    const m = Number(found[1]);
    // newest first: the first of this major wins; otherwise the newest older major
    if (m === major) return { ref: commit.slice(0, 12), tests: `${found[1]}.${found[2]}.${found[3]}` };
    if (m < major && best === null) best = { ref: commit.slice(0, 12), tests: `${found[1]}.${found[2]}.${found[3]}` };
  }
  if (best !== null) return best;
  return { ref: 'HEAD', tests: 'HEAD' };
}

function extract(options, ref) {
  const scratch = path.resolve(options.scratch ?? path.join('/work/scratch/webstreams-suite', ref));
  if (scratch === ROOT || scratch.startsWith(ROOT + path.sep)) fail(`scratch ${scratch} is inside the repository; use a directory outside it`);
  const files = (git(options.gitDir, 'ls-tree', '-r', '--name-only', ref, 'test/parallel') ?? '').split('\n').filter((f) => TEST_FILE.test(f));
  if (files.length === 0) fail(`no web-streams tests under test/parallel at ${ref} in ${options.gitDir}`);
  const wanted = ['test/common', ...files];
  if (options.wpt) wanted.push('test/fixtures/wpt', 'test/wpt/test-streams.js', 'test/wpt/status/streams.json');
  const present = wanted.filter((p) => git(options.gitDir, 'cat-file', '-e', `${ref}:${p}`) !== null);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const archive = spawnSync('git', ['--git-dir', options.gitDir, 'archive', '--format=tar', ref, ...present], { maxBuffer: 1 << 30 });
  if (archive.status !== 0) fail(`git archive failed: ${archive.stderr}`);
  const untar = spawnSync('tar', ['-x', '-C', scratch], { input: archive.stdout });
  if (untar.status !== 0) fail(`tar failed: ${untar.stderr}`);
  // Node's test runner runs every test from the repository root, with a tmp dir of its own
  mkdirSync(path.join(scratch, 'test', '.tmp'), { recursive: true });
  return { scratch, files, wpt: options.wpt && present.includes('test/wpt/test-streams.js') };
}

/** The `// Flags: ...` line of a Node test (its command-line flags). */
function flagsOf(file) {
  const found = /^\/\/ Flags: (.+)$/m.exec(readFileSync(file, 'utf8'));
  return found === null ? [] : found[1].trim().split(/\s+/);
}

function runOnce(options, scratch, file, withAgent) {
  const env = { ...process.env, NODE_TEST_DIR: path.join(scratch, 'test', '.tmp'), NODE_SKIP_FLAG_CHECK: '1' };
  for (const key of Object.keys(env)) if (key.startsWith('ENDGUARD_') || key === 'NODE_OPTIONS') delete env[key];
  if (withAgent) Object.assign(env, { NODE_OPTIONS: `--require ${REGISTER}`, ENDGUARD_MODE: 'observe', ENDGUARD_LOG: 'json' });
  return new Promise((resolve) => {
    const child = spawn(options.node, [...flagsOf(path.join(scratch, file)), file], { cwd: scratch, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('error', (error) => fail(`${options.node}: ${error.message}`));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const reports = stderr.split('\n').filter((l) => l.startsWith('{"endguard":1')).map((l) => JSON.parse(l));
      const warnings = stderr.split('\n').filter((l) => l.startsWith('endguard:'));
      resolve({ code, signal, stdout, stderr, reports, warnings });
    });
  });
}

async function pool(items, jobs, work) {
  const results = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(jobs, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i]);
      }
    }),
  );
  return results;
}

/** WPT: every subtest's status line, as a multiset, and the runner's summary. */
function wptOutcome(stdout) {
  const lines = stdout.split('\n').filter((l) => /^\[(PASS|EXPECTED_FAILURE|UNEXPECTED_FAILURE|SKIPPED|FAIL|TIMEOUT|NOTRUN|PRECONDITION_FAILED|ERROR|UNCAUGHT)[\]]/.test(l));
  const counts = new Map();
  for (const l of lines) counts.set(l, (counts.get(l) ?? 0) + 1);
  const summary = /^Ran \d+\/\d+ tests.*$/m.exec(stdout)?.[0] ?? '(no summary line)';
  return { counts, summary, passed: lines.filter((l) => l.startsWith('[PASS]')).length, lines: lines.length };
}

function outcome(r) {
  return r.signal !== null ? `signal ${r.signal}` : `exit ${r.code}`;
}

async function main() {
  const options = args();
  if (!existsSync(options.gitDir)) fail(`no git directory at ${options.gitDir} (fetch denoland/node_test or nodejs/node, or give --git-dir)`);
  const version = spawnSync(options.node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
  const { ref, tests } = options.ref !== undefined ? { ref: options.ref, tests: options.ref } : pickRef(options.gitDir, version);
  const { scratch, files, wpt } = extract(options, ref);
  console.log(`node-webstreams-suite: Node ${version}, tests of ${tests} (${ref}), ${files.length} files${wpt ? ' + WPT streams' : ''}, in ${scratch}`);

  let same = 0;
  let differ = 0;
  const rows = [];
  const notes = [];
  const started = Date.now();
  const results = await pool(files, options.jobs, async (file) => {
    const bare = await runOnce(options, scratch, file, false);
    const agent = await runOnce(options, scratch, file, true);
    return { file, bare, agent };
  });
  for (const { file, bare, agent } of results) {
    const ok = bare.code === agent.code && bare.signal === agent.signal;
    if (ok) same++;
    else {
      differ++;
      notes.push(`DIFFERS ${file}: without ${outcome(bare)}, with ${outcome(agent)}\n${agent.stderr.split('\n').filter((l) => !l.startsWith('{"endguard"')).slice(0, 30).join('\n')}`);
    }
    for (const w of agent.warnings) notes.push(`warning in ${file}: ${w}`);
    rows.push(`| ${path.basename(file)} | ${outcome(bare)} | ${outcome(agent)} | ${ok ? 'same' : '**differs**'} | ${agent.reports.length} |`);
    for (const r of agent.reports) notes.push(`report in ${file}: ${r.kind} ${r.type}.${r.method} end ${r.endSite ?? r.endSiteNote} late ${r.lateSite} (${r.cause})`);
  }
  console.log(`\n| test | without endguard | with endguard | outcome | reports |\n|---|---|---|---|---|\n${rows.join('\n')}`);

  if (wpt) {
    const file = 'test/wpt/test-streams.js';
    const bare = await runOnce(options, scratch, file, false);
    const agent = await runOnce(options, scratch, file, true);
    const a = wptOutcome(bare.stdout);
    const b = wptOutcome(agent.stdout);
    const keys = new Set([...a.counts.keys(), ...b.counts.keys()]);
    let subSame = 0;
    for (const k of keys) {
      const x = a.counts.get(k) ?? 0;
      const y = b.counts.get(k) ?? 0;
      subSame += Math.min(x, y);
      if (x !== y) {
        differ += Math.abs(x - y);
        notes.push(`WPT DIFFERS: ${k} (without ${x}×, with ${y}×)`);
      }
    }
    same += subSame;
    if (bare.code !== agent.code || bare.signal !== agent.signal) {
      differ++;
      notes.push(`WPT runner DIFFERS: without ${outcome(bare)}, with ${outcome(agent)}`);
    }
    for (const w of agent.warnings) notes.push(`warning in WPT: ${w}`);
    for (const r of agent.reports) notes.push(`report in WPT: ${r.kind} ${r.type}.${r.method} late ${r.lateSite} (${r.cause})`);
    console.log(`\nWPT streams (${file}): ${a.lines} subtest lines without endguard, ${b.lines} with; [PASS] ${a.passed} / ${b.passed}; runner ${outcome(bare)} / ${outcome(agent)}; reports ${agent.reports.length}`);
    console.log(`  without: ${a.summary}\n  with:    ${b.summary}`);
  }

  if (notes.length > 0) console.log(`\n${notes.join('\n')}`);
  console.log(`\ntime: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  console.log(`parity: ${same} passed, ${differ} failed`);
  process.exit(differ === 0 ? 0 : 1);
}

main().catch((error) => fail(error.stack ?? String(error)));
