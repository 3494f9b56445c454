// Preload body for `--require endguard/register` and `--import endguard/register`: both load
// this one CJS file, so the module cache makes a second load a no-op.
import { startAgent } from './bundle';

try {
  startAgent();
} catch (error) {
  try {
    process.stderr.write(`endguard: failed to start (${error instanceof Error ? error.message : String(error)}); the app runs without it\n`);
  } catch {
    // nothing else to do
  }
}
