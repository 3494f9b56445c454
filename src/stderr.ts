import { asReporter } from './flags';

/** Writes to stderr with every wrapper in pass-through (process.stderr is itself a stream). */
export function writeStderr(text: string): void {
  asReporter(() => {
    try {
      process.stderr.write(text);
    } catch {
      // stderr gone: nothing else to do
    }
  });
}

const warnedKeys = new Set<string>();

/** One line on stderr per key, for the life of the process. */
export function warnOnce(key: string, line: string): void {
  if (warnedKeys.has(key)) return;
  warnedKeys.add(key);
  writeStderr(line + '\n');
}

/** One warning for the agent's own failures; the failing hook turns itself into a pass-through. */
export function warnInternal(where: string, error: unknown): void {
  const reason = error instanceof Error ? error.message : String(error);
  warnOnce('internal', `endguard: internal error in ${where} (${reason}); that hook is now a pass-through`);
}
