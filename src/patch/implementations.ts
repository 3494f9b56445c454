import * as path from 'node:path';

/**
 * Code directories (with a trailing separator) of the stream implementations loaded outside
 * node:stream: each copy of readable-stream (its lib/) and minipass (its dist/) the app loads. A call made from their
 * frames was made by the library itself (its pipe(), pipeline, autoDestroy), like a call from
 * Node's own stream internals: the site is the user's `.pipe(...)`, never the library's line.
 */
export const streamImplementations: string[] = [];

export function addStreamImplementation(basedir: string): void {
  const dir = basedir.endsWith(path.sep) ? basedir : basedir + path.sep;
  if (!streamImplementations.includes(dir)) streamImplementations.push(dir);
}
