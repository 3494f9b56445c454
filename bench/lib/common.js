'use strict';
// Shared helpers for the benchmark runner: options, statistics, CPU pinning, child processes.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');

const ROOT = path.resolve(__dirname, '..', '..');
const REGISTER_CJS = path.join(ROOT, 'register.cjs');
const REGISTER_MJS = path.join(ROOT, 'register.mjs');
// npm scripts put node_modules/.bin first on PATH: process.execPath is the repo's Node 24.
const NODE = process.env.BENCH_NODE || process.execPath;

function median(values) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function min(values) {
  return values.length === 0 ? NaN : Math.min(...values);
}

function max(values) {
  return values.length === 0 ? NaN : Math.max(...values);
}

/** Spread as ±% of the median: (max - min) / 2 / median. */
function spreadPct(values) {
  const m = median(values);
  return values.length < 2 || !m ? 0 : ((max(values) - min(values)) / 2 / m) * 100;
}

let taskset;
function hasTaskset() {
  if (taskset === undefined) {
    taskset = os.cpus().length >= 2 && spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;
  }
  return taskset;
}

/** Pins this process (all its threads) to one CPU, when taskset exists. */
function pinSelf(cpu) {
  if (!hasTaskset()) return false;
  return spawnSync('taskset', ['-a', '-cp', String(cpu), String(process.pid)], { stdio: 'ignore' }).status === 0;
}

/** [command, args] running node with `nodeArgs`, pinned to `cpu` when taskset exists (taskset execs: same pid). */
function nodeCommand(nodeArgs, cpu) {
  if (cpu !== undefined && hasTaskset()) return ['taskset', ['-c', String(cpu), NODE, ...nodeArgs]];
  return [NODE, nodeArgs];
}

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(String(r.stdout).trim());
  return n > 0 ? n : 100;
})();

/** utime + stime of a process in microseconds, from /proc/<pid>/stat (null when unavailable). */
function cpuMicros(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces: count fields after its closing paren
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1e6) / CLK_TCK;
  } catch {
    return null;
  }
}

/** Runs a child node process to completion and parses the last JSON line of its stdout. */
function runJsonChild(nodeArgs, { env = {}, cpu, timeoutMs = 300_000 } = {}) {
  return new Promise((resolve, reject) => {
    const [cmd, args] = nodeCommand(nodeArgs, cpu);
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      if (code !== 0 || line === undefined) {
        reject(new Error(`child ${nodeArgs.join(' ')} exited ${code ?? signal}\n${err.slice(-2000)}`));
        return;
      }
      try {
        resolve(JSON.parse(line));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** The parent's environment without anything that would change a child's behaviour. */
function cleanEnv(extra) {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.NODE_ENV;
  for (const k of Object.keys(env)) if (k.startsWith('ENDGUARD_') || k.startsWith('OTEL_') || k === 'BENCH_ABLATE' || k === 'BENCH_UNWRAP') delete env[k];
  return { ...env, ...extra };
}

/**
 * Options from argv (--name=value, --quick, --full) and env (BENCH_NAME).
 * `defaults` maps names to { quick, full } or plain values.
 */
function readOptions(defaults, argv = process.argv.slice(2)) {
  const flags = {};
  for (const arg of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (m) flags[m[1]] = m[2] === undefined ? true : m[2];
  }
  const profile = flags.full || process.env.BENCH_PROFILE === 'full' ? 'full' : 'quick';
  const options = { profile };
  for (const [name, def] of Object.entries(defaults)) {
    const envName = 'BENCH_' + name.replace(/-/g, '_').toUpperCase();
    let value = flags[name] ?? process.env[envName];
    if (value === undefined) value = def !== null && typeof def === 'object' && !Array.isArray(def) ? def[profile] : def;
    options[name] = value;
  }
  return options;
}

function fmt(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Markdown-ish table. */
function table(header, rows) {
  const widths = header.map((h, i) => Math.max(String(h).length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => '| ' + cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ') + ' |';
  return [line(header), '| ' + widths.map((w) => '-'.repeat(w)).join(' | ') + ' |', ...rows.map(line)].join('\n');
}

module.exports = {
  ROOT,
  NODE,
  REGISTER_CJS,
  REGISTER_MJS,
  median,
  min,
  max,
  spreadPct,
  hasTaskset,
  pinSelf,
  nodeCommand,
  cpuMicros,
  runJsonChild,
  cleanEnv,
  readOptions,
  fmt,
  table,
};
