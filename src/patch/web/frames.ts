import * as path from 'node:path';
import type { RawFrame } from '../../core/web-cancel';

const ErrorCtor = Error as ErrorConstructor & { stackTraceLimit: number };
/** dist/ itself: endguard's own wrappers are never the caller. */
const AGENT_DIR = path.join(__dirname, '..', '..') + path.sep;

/**
 * The file and function of up to `limit` frames below `above`, without formatting the stack
 * (V8's CallSite objects are read directly): a few microseconds, for the rare calls that need to
 * know who called (a cancel, a late call). endguard's own frames are left out. The user's
 * Error.prepareStackTrace and Error.stackTraceLimit are restored.
 */
export function rawFrames(limit: number, above: Function): RawFrame[] {
  const frames: RawFrame[] = [];
  const holder: { stack?: unknown } = {};
  const previousLimit = ErrorCtor.stackTraceLimit;
  const previousPrepare = Error.prepareStackTrace;
  try {
    ErrorCtor.stackTraceLimit = limit;
    Error.prepareStackTrace = (_error, sites) => {
      for (const site of sites) {
        const file = site.getFileName() ?? '';
        if (file.startsWith(AGENT_DIR)) continue;
        frames.push({ file, fn: site.getFunctionName(), line: site.getLineNumber() ?? 0, column: site.getColumnNumber() ?? 0 });
      }
      return '';
    };
    Error.captureStackTrace(holder, above);
    void holder.stack; // formats now, through the function above
  } finally {
    ErrorCtor.stackTraceLimit = previousLimit;
    Error.prepareStackTrace = previousPrepare;
  }
  return frames;
}

/** Is the caller of `above` Node's own code (an adapter, the bundled undici)? Node handles its own late calls. */
export function calledByNode(above: Function): boolean {
  const caller = rawFrames(1, above)[0];
  return caller !== undefined && caller.file.startsWith('node:');
}
