let cached: string | undefined;

/** endguard's own version, from its package.json ('unknown' when that cannot be read). */
export function packageVersion(): string {
  if (cached === undefined) {
    try {
      cached = (require('../package.json') as { version: string }).version;
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
