import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');
export const REGISTER_CJS = path.join(ROOT, 'register.cjs');
export const REGISTER_MJS = path.join(ROOT, 'register.mjs');
/** The Node binary the agent is tested on (the matrix sets TEST_NODE_BIN). */
export const NODE = process.env.TEST_NODE_BIN || process.execPath;

export type Preload = 'require' | 'import' | 'none';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stderr lines that are endguard JSON reports */
  reports: Record<string, any>[];
  /** stdout lines that parse as JSON (fixtures print what their client received) */
  out: Record<string, any>[];
}

function jsonLines(text: string, pick: (o: any) => boolean): Record<string, any>[] {
  const result: Record<string, any>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const value = JSON.parse(line);
      if (pick(value)) result.push(value);
    } catch {
      // not JSON
    }
  }
  return result;
}

export function preloadArgs(preload: Preload): string[] {
  if (preload === 'require') return ['--require', REGISTER_CJS];
  if (preload === 'import') return ['--import', REGISTER_MJS];
  return [];
}

/** Runs `node [--require|--import register] fixture` with a clean environment and a hard timeout. */
export function runNode(
  args: string[],
  options: { env?: Record<string, string | undefined>; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('ENDGUARD_') && k !== 'NODE_OPTIONS' && !k.startsWith('OTEL_') && k !== 'NODE_ENV') env[k] = v;
  }
  env.ENDGUARD_LOG = 'json';
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, args, { cwd: options.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout,
        stderr,
        reports: jsonLines(stderr, (o) => o && o.endguard === 1),
        out: jsonLines(stdout, () => true),
      });
    });
  });
}

export function runFixture(
  fixture: string,
  preload: Preload = 'require',
  options: { env?: Record<string, string | undefined>; timeoutMs?: number; args?: string[]; nodeArgs?: string[] } = {},
): Promise<RunResult> {
  const file = path.isAbsolute(fixture) ? fixture : path.join(FIXTURES, fixture);
  return runNode([...(options.nodeArgs ?? []), ...preloadArgs(preload), file, ...(options.args ?? [])], options);
}

/** `file:line:col` of the marker comment `// endguard:<name>` in a fixture: the line, and the column of `column`'s text on it. */
export function markedSite(fixture: string, name: string, call: string): string {
  const file = path.isAbsolute(fixture) ? fixture : path.join(FIXTURES, fixture);
  const lines = readFileSync(file, 'utf8').split('\n');
  const marker = new RegExp(`endguard:${name}(?![\\w-])`);
  const index = lines.findIndex((l) => marker.test(l));
  if (index === -1) throw new Error(`no // endguard:${name} marker in ${fixture}`);
  const line = lines[index]!;
  const col = line.indexOf(call);
  if (col === -1) throw new Error(`marker line ${index + 1} of ${fixture} has no ${call}`);
  // V8 reports a method call at the property name: `res.end(` → the `end`
  const dot = call.lastIndexOf('.');
  return `${file}:${index + 1}:${col + (dot === -1 ? 0 : dot + 1) + 1}`;
}
