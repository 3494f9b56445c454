import { fileURLToPath } from 'node:url';
import * as nodeModule from 'node:module';
import type { Capture, Frame, ResolvedStack } from '../internal-types';
import { AGENT_DIR, AGENT_FILES } from '../paths';

/** Node's default Error.prepareStackTrace, when that is what endguard found when it loaded (this module loads at the first report). */
const NODE_DEFAULT_PREPARE = Error.prepareStackTrace?.name === 'ErrorPrepareStackTrace' ? Error.prepareStackTrace : undefined;

type SourceMapLike = {
  findEntry(line: number, column: number): { originalSource?: string; originalLine?: number; originalColumn?: number };
};

function sourceMapsEnabled(): boolean {
  const flag = (process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled;
  if (typeof flag === 'boolean') return flag;
  return process.execArgv.includes('--enable-source-maps') || /--enable-source-maps/.test(process.env.NODE_OPTIONS ?? '');
}

/** A file URL as a path; anything else unchanged. */
export function toPath(file: string): string {
  if (file.startsWith('file://')) {
    try {
      return fileURLToPath(file);
    } catch {
      return file;
    }
  }
  return file;
}

/** `…/node_modules/<name>/` (or `<@scope/name>`) in a file's path; group 1 is the package's name. The first one: the copy the app loaded. */
export const PACKAGE_PATH = /[/\\]node_modules[/\\]((?:@[^/\\]+[/\\])?[^/\\]+)[/\\]/;

/** `node -e` / `node -p` code and code piped to `node`: the user's own, with no file. */
const EVAL_SCRIPT = /^\[(eval|stdin|worker eval)\d*\]$/;

function isAgentFile(file: string): boolean {
  return file.startsWith(AGENT_DIR) || AGENT_FILES.has(file);
}

function classifyFile(file: string): Frame['kind'] {
  if (EVAL_SCRIPT.test(file)) return 'user';
  if (file === '' || file.startsWith('node:') || file.startsWith('internal/') || !/[/\\]/.test(file)) return 'internal';
  if (isAgentFile(file)) return 'internal';
  if (/[/\\]node_modules[/\\]/.test(file)) return 'dependency';
  return 'user';
}

interface CallSiteLike {
  getFileName(): string | null | undefined;
  getScriptNameOrSourceURL?(): string | null | undefined;
  getLineNumber(): number | null;
  getColumnNumber(): number | null;
  getFunctionName(): string | null;
  getMethodName(): string | null;
  getTypeName(): string | null;
  isNative?(): boolean;
  getEnclosingLineNumber?(): number | null;
  getEnclosingColumnNumber?(): number | null;
  toString(): string;
}

function toFrame(site: CallSiteLike, mapped: boolean): { frame: Frame; text: string } {
  const rawFile = site.getFileName() ?? site.getScriptNameOrSourceURL?.() ?? '';
  let file = toPath(rawFile);
  let line = site.getLineNumber() ?? 0;
  let column = site.getColumnNumber() ?? 0;
  const fn = site.getFunctionName();
  const fnLine = site.getEnclosingLineNumber?.() ?? 0;
  const fnColumn = site.getEnclosingColumnNumber?.() ?? 0;
  let text = String(site);
  if (mapped && rawFile !== '' && !rawFile.startsWith('node:')) {
    try {
      const map = (nodeModule as unknown as { findSourceMap?(p: string): SourceMapLike | undefined }).findSourceMap?.(file);
      const entry = map?.findEntry(line - 1, column - 1);
      if (entry && typeof entry.originalSource === 'string' && typeof entry.originalLine === 'number') {
        file = toPath(entry.originalSource);
        line = entry.originalLine + 1;
        column = (entry.originalColumn ?? 0) + 1;
        text = `${fn ?? '<anonymous>'} (${file}:${line}:${column})`;
      }
    } catch {
      // keep the generated position
    }
  }
  // after source mapping the enclosing position is the generated one: still a valid identity
  return { frame: { file, line, column, fn, fnLine, fnColumn, kind: classifyFile(file) }, text };
}

/** `file:line:col` of one `    at fn (file:line:col)` / `    at file:line:col` line. */
function locationOf(line: string): string {
  const text = line.trim();
  const open = text.lastIndexOf(' (');
  return text.endsWith(')') && open !== -1 ? text.slice(open + 2, -1) : text.slice(3);
}

/**
 * A formatter that maps positions itself (vite's module runner under vitest, source-map-support)
 * prints one `at` line per call site: its positions are the user's lines, the call sites' are
 * the generated code's. Any other shape (a custom format) leaves the frames as they are.
 */
function adoptPositions(frames: Frame[], formatted: string): void {
  const lines = formatted.split('\n').filter((l) => /^\s+at /.test(l));
  if (lines.length !== frames.length) return;
  frames.forEach((frame, i) => {
    const site = parseSite(locationOf(lines[i]!));
    if (site === null || site.file === '') return;
    const file = toPath(site.file);
    frames[i] = { ...frame, file, line: site.line, column: site.column, kind: classifyFile(file) };
  });
}

/**
 * Formats a capture once: structured frames for site selection, and the stack text as the
 * user would see it (their own Error.prepareStackTrace wins; source maps applied otherwise).
 */
// V8 formats a captured stack once, on first access, and caches the text: a capture that
// serves several reports (one end, several late calls) must keep its first resolution.
const resolved = new WeakMap<Capture, ResolvedStack>();

export function resolveStack(capture: Capture | null, name: string, message: string): ResolvedStack | null {
  if (capture === null) return null;
  const cached = resolved.get(capture);
  if (cached !== undefined) return cached;
  const header = `${name}: ${message}`;
  try {
    // the stack is formatted lazily, on first access: the header comes from these two
    Object.assign(capture, { name, message });
  } catch {
    // frozen holder: keep V8's default header
  }
  const userPrepare = Error.prepareStackTrace;
  const mapped = sourceMapsEnabled();
  let frames: Frame[] = [];
  let text = '';
  Error.prepareStackTrace = (_error: Error, sites: NodeJS.CallSite[]) => {
    const lines: string[] = [];
    for (const site of sites) {
      const { frame, text: line } = toFrame(site as unknown as CallSiteLike, mapped);
      frames.push(frame);
      // an endguard wrapper further down the stack (the app's write that reached this stream
      // through a pipe): not a frame of the call the user made
      if (!isAgentFile(frame.file)) lines.push(line);
    }
    // Node's own default formatter (installed on Node 20+) would format every frame again; the
    // lines above already are its format, source maps applied. A user's formatter wins.
    if (typeof userPrepare === 'function' && userPrepare !== NODE_DEFAULT_PREPARE) {
      try {
        // the holder is a plain object: the formatter gets an Error with the header's name and
        // message, so `${error}` and error.toString() read as for Node's own error
        const view = Object.create(Error.prototype, {
          name: { value: name, writable: true, configurable: true },
          message: { value: message, writable: true, configurable: true },
        }) as Error;
        const formatted: unknown = userPrepare(view, sites);
        if (typeof formatted === 'string') {
          adoptPositions(frames, formatted);
          return formatted;
        }
      } catch {
        // a broken user formatter must not lose the report
      }
    }
    return header + lines.map((l) => '\n    at ' + l).join('');
  };
  try {
    const value = capture.stack;
    text = typeof value === 'string' ? value : String(value);
  } catch {
    text = header;
  } finally {
    Error.prepareStackTrace = userPrepare;
  }
  const result = { text, frames };
  resolved.set(capture, result);
  return result;
}

export function formatSite(frame: Frame): string {
  return `${frame.file}:${frame.line}:${frame.column}`;
}

/** `file:line:col` → its parts (the file part may itself contain colons). */
export function parseSite(site: string | null): { file: string; line: number; column: number } | null {
  if (site === null) return null;
  const match = /^(.*):(\d+):(\d+)$/.exec(site);
  if (match === null) return null;
  return { file: match[1]!, line: Number(match[2]), column: Number(match[3]) };
}

/** The first frame of the user's own code, or null. */
export function userFrame(frames: readonly Frame[]): Frame | null {
  for (const f of frames) if (f.kind === 'user') return f;
  return null;
}

/** The first frame outside Node and endguard (a dependency's, when no user frame exists). */
export function nearestFrame(frames: readonly Frame[]): Frame | null {
  return userFrame(frames) ?? frames.find((f) => f.kind === 'dependency') ?? null;
}
