#!/usr/bin/env node
// Runs a framework's own test suite twice — without endguard and with it preloaded
// (NODE_OPTIONS="--require <root>/register.cjs", observe mode, ENDGUARD_LOG=json) — and
// compares the outcome of every test.
//
//   node scripts/peer-suite.mjs <suite> [--src <dir>] [--git-dir <dir>] [--ref <git ref>]
//        [--scratch <dir>] [--skip-install] [--node <node binary>]
//   suites: express, http-proxy-middleware; fastify (5.x), koa; readable-stream (4.x),
//           readable-stream3, readable-stream2, ws (8.x), ws7, winston
//
// Source: the suites are public on GitHub, not on npm. Give either an already extracted source
// tree (--src) or a bare git directory (--git-dir, e.g. a mirror under /work/.mirror/; the
// suite's `ref` (a tag or branch matching the installed major) or --ref, else HEAD, is
// extracted with `git archive`). Default: $PEER_SRC / $PEER_GIT_DIR, then
// /work/.mirror/<owner>+<name>/repo. The code is extracted into a scratch directory OUTSIDE
// this repository (default /work/scratch/peer/<suite>, or $PEER_SCRATCH) and never committed.
// A package endguard patches when the app loads it (Fastify, Koa, readable-stream, ws) is
// extracted into <scratch>/node_modules/<name> and run from there: its own tests load it by
// relative path, and require-in-the-middle recognises a package only by its node_modules/<name>/ path.
//
// Output: one line per test whose outcome differs, the endguard report counts, and a last line
//   parity: N passed, M failed
// where N = tests with the identical outcome (passed/failed/skipped) in both runs and
// M = tests whose outcome differs or that exist in only one run. M must be 0.
// Exit code: 0 when M = 0, 1 otherwise, 2 on a setup error.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REGISTER = path.join(ROOT, 'register.cjs');

const SUITES = {
  express: {
    repo: 'expressjs/express',
    // the suite's own `npm test` command, with a machine-readable reporter
    command: (out) => ['node_modules/.bin/mocha', '--require', 'test/support/env', '--reporter', 'json', '--reporter-option', `output=${out}`, '--check-leaks', 'test/', 'test/acceptance/'],
    parse: parseMocha,
    // devDependencies only needed for linting / coverage
    drop: ['eslint', 'nyc'],
  },
  'http-proxy-middleware': {
    repo: 'chimurai/http-proxy-middleware',
    command: (out) => ['node_modules/.bin/vitest', 'run', '--reporter=json', `--outputFile=${out}`, '--pool=forks', '--maxWorkers=1', '--no-file-parallelism'],
    parse: parseVitest,
    drop: ['@commitlint/cli', '@commitlint/config-conventional', '@eslint/js', '@types/eslint', 'eslint', 'globals', 'husky', 'lint-staged', 'oxfmt', 'pkg-pr-new', 'typescript-eslint', '@vitest/coverage-v8', 'open'],
  },
};
// node:test suites: the runner with a reporter of our own (one JSON line per test), at most
// two test files at a time (2 shared cores), each test at most 60 s.
// (--test-concurrency and --test-timeout exist from Node 20.10: older runners use their defaults)
const nodeTest = (files) => (out, reporter, version) => [
  '--test',
  `--test-reporter=${reporter}`,
  `--test-reporter-destination=${out}`,
  ...(atLeast(version, 20, 10) ? ['--test-concurrency=2', '--test-timeout=60000'] : []),
  ...files(),
];

function atLeast(version, major, minor) {
  const [a, b] = version.replace(/^v/, '').split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/** Files under `dir` (relative to the suite root, the working directory) whose path matches `pattern`: Node 20's --test takes no globs. */
function findFiles(dir, pattern) {
  const found = [];
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(p);
      } else if (pattern.test(p)) found.push(p);
    }
  };
  walk(dir);
  return found.sort();
}
const FASTIFY_DROP = ['@stylistic/eslint-plugin', '@stylistic/eslint-plugin-js', '@types/node', 'eslint', 'neostandard', 'markdownlint-cli2', 'tstyche', 'typescript', 'fastify-tsconfig', 'json-schema-to-ts', 'branch-comparer', 'concurrently', 'cross-env', '@jsumners/line-reporter', 'borp', 'c8', 'tsd', 'autocannon'];
SUITES.fastify = {
  repo: 'fastify/fastify',
  // the installed fastify is 5.x; the mirror's HEAD is the 6.0 alpha
  ref: '5.x',
  nest: 'fastify',
  // `npm run unit` = borp over .borp.yaml's files: test/**/*.test.js and test/**/*.test.mjs
  node: nodeTest(() => findFiles('test', /\.test\.m?js$/)),
  parse: parseNodeTest,
  drop: FASTIFY_DROP,
};
SUITES.koa = {
  repo: 'koajs/koa',
  nest: 'koa',
  // `npm test` = node --test (its default file patterns)
  node: nodeTest(() => []),
  parse: parseNodeTest,
  build: 'build',
  drop: ['c8', 'standard', 'snazzy'],
};

// readable-stream's suites are Node core's stream tests, one script per file: `tap` runs each
// file as a child process and a file passes when it exits 0; here each file is one test, run the
// same way (`node <tap's node-arg> <file>`), two at a time.
// Their test/common fails every file on exit for globals Node added since (fetch, crypto,
// navigator, Node 26's sessionStorage, ...): both runs preload this shim, which only makes
// those non-enumerable (it reads no getter).
const KNOWN_GLOBALS_SHIM = `for (const name of ['queueMicrotask', 'structuredClone', 'atob', 'btoa', 'performance', 'fetch', 'crypto', 'navigator', 'WebSocket', 'CustomEvent', 'EventSource', 'sessionStorage', 'localStorage', 'Navigator', 'CloseEvent', 'Storage']) {
  const d = Object.getOwnPropertyDescriptor(globalThis, name);
  if (d && d.enumerable && d.configurable) Object.defineProperty(globalThis, name, { ...d, enumerable: false });
}
`;
const readableStream = (ref, nodeArgs, keep) => ({
  repo: 'nodejs/readable-stream',
  ref,
  nest: 'readable-stream',
  files: { dirs: ['test/parallel', 'test/ours'], nodeArgs },
  keep,
  shim: KNOWN_GLOBALS_SHIM,
});
Object.assign(SUITES, {
  'readable-stream': readableStream('v4.7.0', ['--expose-internals', '--no-warnings'], ['tap', '@sinonjs/fake-timers']),
  'readable-stream3': readableStream('v3.6.2', [], ['tap', 'assert', '@babel/polyfill', 'util-promisify', 'lolex', 'events.once', 'deep-strict-equal', 'bl', 'pump', 'tape']),
  'readable-stream2': readableStream('v2.3.8', [], ['assert', 'babel-polyfill', 'lolex', 'tap', 'tape']),
  ws: {
    repo: 'websockets/ws',
    nest: 'ws',
    // its `npm test` without nyc; mocha 8 writes the JSON report to stdout. --exit: a failing
    // test here (an HTTP 431 where ws expects 400, Node 24's header limits) leaves a handle open
    command: () => ['node_modules/.bin/mocha', '--throw-deprecation', '--exit', '--reporter', 'json', 'test/*.test.js'],
    stdoutReport: true,
    parse: parseMocha,
    drop: ['eslint', 'nyc', 'prettier', 'eslint-config-prettier', 'eslint-plugin-prettier', '@eslint/js', 'globals', 'benchmark'],
  },
  ws7: {
    repo: 'websockets/ws',
    ref: '7.5.11',
    nest: 'ws',
    command: () => ['node_modules/.bin/mocha', '--throw-deprecation', '--exit', '--reporter', 'json', 'test/*.test.js'],
    stdoutReport: true,
    parse: parseMocha,
    drop: ['eslint', 'nyc', 'prettier', 'eslint-config-prettier', 'eslint-plugin-prettier', 'benchmark'],
  },
  winston: {
    repo: 'winstonjs/winston',
    ref: 'v3.19.0',
    // its `npm test` (jest); jest's JSON report has vitest's shape. --forceExit: jest says its
    // suite leaves handles open ("Jest did not exit one second after the test run")
    command: (out) => ['node_modules/.bin/jest', '--json', `--outputFile=${out}`, '--runInBand', '--forceExit'],
    parse: parseVitest,
    drop: ['@dabh/eslint-config-populist', 'eslint', '@babel/cli'],
  },
});
SUITES['http-proxy'] = SUITES['http-proxy-middleware'];

function fail(message) {
  console.error(`peer-suite: ${message}`);
  process.exit(2);
}

function args() {
  const argv = process.argv.slice(2);
  const options = { node: process.env.PEER_NODE ?? process.execPath, suite: undefined, src: process.env.PEER_SRC, gitDir: process.env.PEER_GIT_DIR, ref: process.env.PEER_REF, scratch: process.env.PEER_SCRATCH, install: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--src') options.src = argv[++i];
    else if (a === '--git-dir') options.gitDir = argv[++i];
    else if (a === '--ref') options.ref = argv[++i];
    else if (a === '--scratch') options.scratch = argv[++i];
    else if (a === '--skip-install') options.install = false;
    else if (a === '--node') options.node = argv[++i];
    else if (!a.startsWith('-') && options.suite === undefined) options.suite = a;
    else fail(`unknown argument ${a}`);
  }
  if (!options.suite || !SUITES[options.suite]) fail(`usage: peer-suite.mjs <${Object.keys(SUITES).join('|')}> [--src dir | --git-dir dir] [--ref ref] [--scratch dir] [--skip-install] [--node bin]`);
  return options;
}

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: opts.capture ? ['ignore', 'pipe', 'pipe'] : 'inherit', encoding: 'utf8', maxBuffer: 1 << 30, ...opts });
  if (r.error) fail(`${cmd} ${argv.join(' ')}: ${r.error.message}`);
  return r;
}

/** The suite's root: the scratch directory, or <scratch>/node_modules/<name> for a nested framework. */
function suiteRoot(scratch, suite) {
  return suite.nest ? path.join(scratch, 'node_modules', suite.nest) : scratch;
}

function prepare(options, suite) {
  const base = path.resolve(options.scratch ?? path.join('/work/scratch/peer', options.suite === 'http-proxy' ? 'http-proxy-middleware' : options.suite));
  if (base === ROOT || base.startsWith(ROOT + path.sep)) fail(`scratch ${base} is inside the repository; use a directory outside it`);
  const scratch = suiteRoot(base, suite);
  const stamp = path.join(scratch, '.peer-suite-installed');
  if (options.install || !existsSync(stamp)) {
    let gitDir = options.gitDir;
    if (!options.src && !gitDir) {
      const mirror = `/work/.mirror/${suite.repo.replace('/', '+')}/repo`;
      if (existsSync(mirror)) gitDir = mirror;
      else fail(`no source: pass --src <extracted tree> or --git-dir <bare git dir> of https://github.com/${suite.repo}`);
    }
    rmSync(base, { recursive: true, force: true });
    mkdirSync(scratch, { recursive: true });
    if (options.src) {
      run('cp', ['-a', path.join(path.resolve(options.src), '.'), scratch]);
    } else {
      const ref = options.ref ?? suite.ref ?? 'HEAD';
      const archive = run('git', ['--git-dir', gitDir, 'archive', ref], { capture: true, encoding: 'buffer', maxBuffer: 1 << 30 });
      if (archive.status !== 0) fail(`git archive failed: ${archive.stderr}`);
      const untar = spawnSync('tar', ['-x', '-C', scratch], { input: archive.stdout, maxBuffer: 1 << 30 });
      if (untar.status !== 0) fail(`tar failed: ${untar.stderr}`);
      const head = run('git', ['--git-dir', gitDir, 'log', '-1', '--format=%H %cs %s', ref], { capture: true });
      writeFileSync(path.join(scratch, '.peer-suite-commit'), `${ref} ${head.stdout}`);
    }
    const pkgFile = path.join(scratch, 'package.json');
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
    for (const name of suite.drop ?? []) delete pkg.devDependencies?.[name];
    // or only the devDependencies its tests load (readable-stream's browser and bundler tooling is large)
    if (suite.keep) for (const name of Object.keys(pkg.devDependencies ?? {})) if (!suite.keep.includes(name)) delete pkg.devDependencies[name];
    delete pkg.scripts?.prepare;
    writeFileSync(pkgFile, JSON.stringify(pkg, null, 2) + '\n');
    console.error(`peer-suite: npm install in ${scratch}`);
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const install = run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', '--no-package-lock'], { cwd: scratch, env });
    if (install.status !== 0) fail('npm install failed');
    if (suite.build) {
      // generated files the suite tests (Koa's dist/koa.mjs, from its `prepare` script)
      const build = run('npm', ['run', suite.build, '--loglevel=error'], { cwd: scratch, env });
      if (build.status !== 0) fail(`npm run ${suite.build} failed`);
    }
    writeFileSync(stamp, new Date().toISOString() + '\n');
  }
  return scratch;
}

// A second preload, loaded after endguard, that counts every published violation (the log is
// rate-limited, so stderr lines undercount). Test runners may kill their workers without an
// 'exit' event, so each message is appended at once (the volume is small), up to a cap.
function writeCounter(scratch) {
  const file = path.join(scratch, '.peer-suite-counter.cjs');
  writeFileSync(
    file,
    `const dc = require('node:diagnostics_channel');
const fs = require('node:fs');
const out = process.env.PEER_SUITE_COUNT_FILE;
const root = process.env.PEER_SUITE_ROOT;
let n = 0;
// a nested suite's own files are under node_modules, so the report's sites skip them: keep the
// first frame of the suite's own code (tests, lib) from each stack too
function own(stack) {
  if (!root || typeof stack !== 'string') return null;
  for (const line of stack.split('\\n')) {
    const m = /\\(?(\\/[^()]*?:\\d+:\\d+)\\)?$/.exec(line);
    if (m && m[1].startsWith(root + '/') && !m[1].slice(root.length).includes('/node_modules/')) return m[1];
  }
  return null;
}
dc.subscribe('endguard:violation', (m) => {
  if (!out || ++n > 10000) return;
  // node:test runs each test file in its own process: argv[1] names the file
  const main = process.argv[1] && root && process.argv[1].startsWith(root + '/') ? process.argv[1].slice(root.length + 1) : null;
  try { fs.appendFileSync(out, JSON.stringify({ pid: process.pid, main, kind: m.kind, type: m.type, method: m.method, cause: m.cause, endSite: m.endSite, lateSite: m.lateSite, endOwn: own(m.endStack), lateOwn: own(m.lateStack) }) + '\\n'); } catch {}
});
`,
  );
  return file;
}

// node:test: one JSON line per finished test (the runner's own events), read by parseNodeTest.
function writeReporter(scratch) {
  const file = path.join(scratch, '.peer-suite-reporter.mjs');
  writeFileSync(
    file,
    `export default async function* reporter(source) {
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const d = event.data;
    // a file's own entry (its subprocess) has the file path as its name
    const outcome = event.type === 'test:fail' ? 'failed' : d.skip !== undefined || d.todo !== undefined ? 'skipped' : 'passed';
    const error = d.details?.error;
    yield JSON.stringify({ file: d.file ?? null, nesting: d.nesting, name: d.name, outcome, message: error ? String(error.cause?.message ?? error.message ?? error).slice(0, 2000) : undefined }) + '\\n';
  }
}
`,
  );
  return file;
}

function parseNodeTest(file) {
  const tests = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    const t = JSON.parse(line);
    const rel = t.file ? path.relative(process.cwd(), t.file) : '';
    // a test file's own entry (nesting 0, named after the file) stands for the file: skipped when it ran no test
    tests.push({ name: `${rel} › ${'  '.repeat(t.nesting)}${t.name === t.file ? '(file)' : t.name}`, outcome: t.outcome, message: t.message });
  }
  return tests;
}

function parseFiles(file) {
  return JSON.parse(readFileSync(file, 'utf8')).tests;
}

function parseMocha(file) {
  const data = JSON.parse(readFileSync(file, 'utf8'));
  const tests = [];
  const failures = new Map(data.failures.map((t) => [t.fullTitle + '\0' + t.file, t]));
  const passes = new Set(data.passes.map((t) => t.fullTitle + '\0' + t.file));
  const pending = new Set(data.pending.map((t) => t.fullTitle + '\0' + t.file));
  for (const t of data.tests) {
    const key = t.fullTitle + '\0' + t.file;
    const outcome = failures.has(key) ? 'failed' : passes.has(key) ? 'passed' : pending.has(key) ? 'skipped' : 'unknown';
    tests.push({ name: `${path.relative(process.cwd(), t.file ?? '')} › ${t.fullTitle}`, outcome, message: failures.get(key)?.err?.message });
  }
  // hooks that fail ("before all" hook) appear only in failures
  for (const t of data.failures) if (!data.tests.some((x) => x.fullTitle === t.fullTitle && x.file === t.file)) tests.push({ name: `${t.file} › ${t.fullTitle}`, outcome: 'failed', message: t.err?.message });
  return tests;
}

function parseVitest(file) {
  const data = JSON.parse(readFileSync(file, 'utf8'));
  const tests = [];
  for (const f of data.testResults) {
    const rel = path.relative(process.cwd(), f.name);
    if (f.assertionResults.length === 0) tests.push({ name: `${rel} › (file)`, outcome: f.status === 'passed' ? 'passed' : 'failed', message: f.message });
    for (const t of f.assertionResults) {
      const outcome = t.status === 'passed' ? 'passed' : t.status === 'failed' ? 'failed' : 'skipped';
      tests.push({ name: `${rel} › ${t.fullName}`, outcome, message: t.failureMessages?.join('\n') });
    }
  }
  return tests;
}

/** One test per file (readable-stream): `node <nodeArgs> <file>` in the file's suite, two at a time; passed when it exits 0. */
async function runFiles(scratch, suite, env, node, out) {
  const files = suite.files.dirs.flatMap((dir) =>
    readdirSync(path.join(scratch, dir))
      .filter((f) => /^test-.*\.js$/.test(f))
      .sort()
      .map((f) => path.join(dir, f)),
  );
  const tests = [];
  let stderr = '';
  let next = 0;
  const one = (file) =>
    new Promise((resolve) => {
      const child = spawn(node, [...suite.files.nodeArgs, file], { cwd: scratch, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (c) => (text += c));
      child.stderr.on('data', (c) => (text += c));
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        stderr += text.split('\n').filter((l) => l.includes('{"endguard":1') || /^endguard: /.test(l)).join('\n') + '\n';
        const passed = code === 0;
        tests.push({ name: file, outcome: passed ? 'passed' : 'failed', message: passed ? undefined : `exit ${code ?? signal}: ${text.split('\n').filter((l) => /Error|not ok|assert/i.test(l)).slice(0, 3).join(' | ')}` });
        resolve();
      });
    });
  const worker = async () => {
    while (next < files.length) await one(files[next++]);
  };
  await Promise.all([worker(), worker()]);
  tests.sort((a, b) => (a.name < b.name ? -1 : 1));
  writeFileSync(out, JSON.stringify({ tests }));
  return { status: tests.every((t) => t.outcome === 'passed') ? 0 : 1, stdout: '', stderr };
}

async function runSuite(scratch, suite, label, withAgent, counter, node, reporter) {
  const out = path.join(scratch, `.peer-suite-${label}.json`);
  const countFile = path.join(scratch, `.peer-suite-${label}.counts`);
  rmSync(out, { force: true });
  rmSync(countFile, { force: true });
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('ENDGUARD_') || k.startsWith('OTEL_')) delete env[k];
  delete env.NODE_OPTIONS;
  env.CI = '1';
  const shim = suite.shim ? path.join(scratch, '.peer-suite-shim.cjs') : null;
  if (shim) {
    writeFileSync(shim, suite.shim);
    env.NODE_OPTIONS = `--require ${shim}`;
  }
  if (withAgent) {
    env.NODE_OPTIONS = `${shim ? `--require ${shim} ` : ''}--require ${REGISTER} --require ${counter}`;
    env.ENDGUARD_MODE = 'observe';
    env.ENDGUARD_LOG = 'json';
    env.PEER_SUITE_COUNT_FILE = countFile;
    env.PEER_SUITE_ROOT = scratch;
  }
  const started = Date.now();
  // the runner's bin script is run by the chosen Node (its `#!/usr/bin/env node` is bypassed)
  env.PATH = `${path.dirname(node)}${path.delimiter}${env.PATH}`;
  let r;
  if (suite.files) r = await runFiles(scratch, suite, env, node, out);
  else if (suite.node) {
    const argv = suite.node(out, reporter, spawnSync(node, ['-v'], { encoding: 'utf8' }).stdout.trim());
    r = run(node, argv, { cwd: scratch, env, capture: true, timeout: 60 * 60_000 });
  } else {
    const [cmd, ...argv] = suite.command(out);
    r = run(node, [path.join(scratch, cmd), ...argv], { cwd: scratch, env, capture: true, timeout: 20 * 60_000 });
    if (suite.stdoutReport) {
      // the JSON reporter's object is the last thing on stdout; tests may print before it
      const at = r.stdout.lastIndexOf('{\n  "stats"');
      if (at !== -1) writeFileSync(out, r.stdout.slice(at));
    }
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (!existsSync(out)) {
    console.error(r.stdout.slice(-4000));
    console.error(r.stderr.slice(-4000));
    fail(`${label} run produced no report (exit ${r.status})`);
  }
  const stderr = r.stderr ?? '';
  const stdout = r.stdout ?? '';
  const logged = (stderr + '\n' + stdout).split('\n').filter((l) => l.includes('{"endguard":1')).length;
  const otherAgentLines = (stderr + '\n' + stdout).split('\n').filter((l) => /^endguard: /.test(l.trim()));
  let published = 0;
  const kinds = {};
  if (existsSync(countFile)) {
    for (const line of readFileSync(countFile, 'utf8').split('\n').filter(Boolean)) {
      const c = JSON.parse(line);
      published++;
      const rel = (site) => (site === null ? 'null' : path.relative(scratch, site));
      const k = `${c.type}.${c.method} ${c.kind} (${c.cause}) end=${rel(c.endOwn ?? c.endSite)} late=${rel(c.lateOwn ?? c.lateSite)}${c.main ? ` [${c.main}]` : ''}`;
      kinds[k] = (kinds[k] ?? 0) + 1;
    }
  }
  writeFileSync(path.join(scratch, `.peer-suite-${label}.stderr`), stderr);
  return { tests: (suite.parse ?? parseFiles)(out), exit: r.status, seconds, logged, published, kinds, otherAgentLines };
}

function keyed(tests) {
  const map = new Map();
  for (const t of tests) {
    let key = t.name;
    for (let i = 2; map.has(key); i++) key = `${t.name} #${i}`;
    map.set(key, t);
  }
  return map;
}

const options = args();
const suite = SUITES[options.suite];
const scratch = prepare(options, suite);
const counter = writeCounter(scratch);
const reporter = writeReporter(scratch);
process.chdir(scratch);
const commit = existsSync('.peer-suite-commit') ? readFileSync('.peer-suite-commit', 'utf8').trim() : '(from --src)';
console.log(`suite: ${options.suite} (${suite.repo} ${commit})`);
const nodeVersion = spawnSync(options.node, ['-v'], { encoding: 'utf8' }).stdout.trim();
console.log(`node: ${options.node} ${nodeVersion}`);

const base = await runSuite(scratch, suite, 'without', false, counter, options.node, reporter);
const withAgent = await runSuite(scratch, suite, 'with', true, counter, options.node, reporter);
const a = keyed(base.tests);
const b = keyed(withAgent.tests);
let same = 0;
let differ = 0;
for (const key of new Set([...a.keys(), ...b.keys()])) {
  const x = a.get(key);
  const y = b.get(key);
  if (x && y && x.outcome === y.outcome) {
    same++;
    continue;
  }
  differ++;
  console.log(`DIFF ${key}: without=${x?.outcome ?? 'absent'} with=${y?.outcome ?? 'absent'}`);
  const message = (y?.outcome === 'failed' ? y.message : x?.message) ?? '';
  if (message) console.log('  ' + message.split('\n').slice(0, 6).join('\n  '));
}
const count = (tests, o) => tests.filter((t) => t.outcome === o).length;
for (const [label, r] of [['without', base], ['with endguard', withAgent]]) {
  console.log(`${label}: ${r.tests.length} tests, ${count(r.tests, 'passed')} passed, ${count(r.tests, 'failed')} failed, ${count(r.tests, 'skipped')} skipped, exit ${r.exit}, ${r.seconds} s`);
}
console.log(`endguard reports: ${withAgent.published} published on endguard:violation, ${withAgent.logged} JSON lines logged (rate-limited)`);
for (const [k, v] of Object.entries(withAgent.kinds).sort((p, q) => q[1] - p[1])) console.log(`  ${v} × ${k}`);
const warnings = [...new Set(withAgent.otherAgentLines)];
if (warnings.length > 0) console.log(`endguard warnings:\n  ${warnings.slice(0, 10).join('\n  ')}`);
console.log(`parity: ${same} passed, ${differ} failed`);
process.exit(differ === 0 ? 0 : 1);
