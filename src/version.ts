import { readFileSync } from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

/**
 * endguard's own version, from its package.json ('unknown' when that cannot be read). Read
 * when first asked (a second copy's warning, a tracer, the CLI), not at preload; this file
 * stays at the top level of src/ (dist/ as __dirname, bundled or not).
 */
export function packageVersion(): string {
  if (cached === undefined) {
    try {
      cached = (JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
