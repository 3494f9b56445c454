import { AGENT_DIR } from '../../paths';

const ErrorCtor = Error as ErrorConstructor & { stackTraceLimit: number };

/**
 * Is the caller of `above` Node's own code (an adapter, the bundled undici)? Node handles the
 * late calls it makes itself. Reads one V8 CallSite without formatting the stack; runs only at
 * a late call. The user's Error.prepareStackTrace and Error.stackTraceLimit are restored.
 */
export function calledByNode(above: Function): boolean {
  let file = '';
  const holder: { stack?: unknown } = {};
  const previousLimit = ErrorCtor.stackTraceLimit;
  const previousPrepare = Error.prepareStackTrace;
  try {
    ErrorCtor.stackTraceLimit = 2;
    Error.prepareStackTrace = (_error, sites) => {
      for (const site of sites) {
        const name = site.getFileName() ?? '';
        // endguard's own wrappers are never the caller
        if (name.startsWith(AGENT_DIR)) continue;
        file = name;
        break;
      }
      return '';
    };
    Error.captureStackTrace(holder, above);
    void holder.stack; // formats now, through the function above
  } finally {
    ErrorCtor.stackTraceLimit = previousLimit;
    Error.prepareStackTrace = previousPrepare;
  }
  return file.startsWith('node:');
}
