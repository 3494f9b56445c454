import * as path from 'node:path';
import { PACKAGE_PATH, parseSite, toPath } from '../core/callsite';
import type { CollectedReport, WatchedProcess } from './collect';

// Where a report came from, in the words of a test run: the test file when one is known, else
// the process (its script, or the package whose bin it is).

const TEST_FILE = /(^|[\\/])__tests__[\\/]|\.(test|spec)\.[cm]?[jt]sx?$|_test\.[cm]?[jt]s$/;
const NODE_MODULES = /[\\/]node_modules[\\/]/;

export function isTestFile(file: string): boolean {
  return TEST_FILE.test(file) && !NODE_MODULES.test(file);
}

/** A path relative to `cwd` when it is inside it, else as it is. */
export function displayPath(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative === '' || relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

/** The first frame of a stack that is in a test file. */
function testFrame(stack: string | null): string | undefined {
  if (stack === null) return undefined;
  for (const raw of stack.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith('at ')) continue;
    const open = line.lastIndexOf(' (');
    const location = line.endsWith(')') && open !== -1 ? line.slice(open + 2, -1) : line.slice(3);
    const site = parseSite(location);
    if (site !== null && isTestFile(toPath(site.file))) return toPath(site.file);
  }
  return undefined;
}

/**
 * The names `node --test` runs by default besides *.test.*: test-*.js, *-test.js, *_test.js,
 * test.js (each file in its own process). Not every file under a test/ directory, which it
 * runs too: a fixture or a helper server started there is not a test.
 */
const NODE_TEST_FILE = /(^|[\\/])(test-[^\\/]*|[^\\/]*[-_]test|test)\.[cm]?[jt]s$/;

function scriptTestFile(proc: WatchedProcess): string | undefined {
  for (const script of [proc.script, proc.mainThread?.script]) {
    if (typeof script === 'string' && (isTestFile(script) || (NODE_TEST_FILE.test(script) && !NODE_MODULES.test(script)))) return script;
  }
  return undefined;
}

/**
 * The test file behind a report: what the runner said (vitest), a test file on the late or the
 * end stack (jest, mocha, a synchronous call from a test), or the process's script when it is
 * one (`node --test` runs each file in its own process; a worker thread belongs to its process's).
 */
export function testFileOf(entry: CollectedReport): string | undefined {
  if (entry.test !== undefined) return entry.test;
  return testFrame(entry.report.lateStack) ?? testFrame(entry.report.endStack) ?? scriptTestFile(entry.process);
}

/**
 * `node app.js (pid 12)`, `vitest (pid 40)` (the package when the script is a dependency's
 * bin), `node test/a.test.js (pid 7, worker thread 1)` (a worker is named after its process).
 */
export function processLabel(proc: WatchedProcess, cwd: string): string {
  const ids = `pid ${proc.pid}${proc.threadId > 0 ? `, worker thread ${proc.threadId}` : ''}`;
  const script = proc.mainThread?.script ?? proc.script;
  if (script === null) return `node (${ids})`;
  const inPackage = PACKAGE_PATH.exec(script);
  let name = inPackage?.[1] !== undefined ? inPackage[1].replace(/\\/g, '/') : `node ${displayPath(script, cwd)}`;
  // npm scripts and npx run a tool through its node_modules/.bin link: the link is its name
  if (name === '.bin') name = path.basename(script);
  return `${name} (${ids})`;
}
