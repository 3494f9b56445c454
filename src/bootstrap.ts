import { startAgent } from './agent';

/**
 * The preload body of `--require endguard/register` and `--import endguard/register` (both call
 * it on dist/bundle.js, so a second load is a no-op): starts the agent; a failure to start is
 * one line on stderr, never the app's.
 */
export function preload(): void {
  try {
    startAgent();
  } catch (error) {
    try {
      process.stderr.write(`endguard: failed to start (${error instanceof Error ? error.message : String(error)}); the app runs without it\n`);
    } catch {
      // nothing else to do
    }
  }
}
