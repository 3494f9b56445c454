import type { Config } from './types';

/**
 * The agent's mutable process-wide flags, read on the hot path. Everything else is owned by
 * the module that uses it (armed keys by patch/capture.ts, the throttle by patch/late.ts).
 * Writers: agent.ts (config, enabled), stderr.ts and patch/late.ts (reporting),
 * patch/response.ts (active).
 */
export const flags = {
  /** Set by start() before any patch is installed. */
  config: undefined as unknown as Config,
  enabled: false,
  /** True while endguard itself formats, logs or publishes: every wrapper is then a pass-through. */
  reporting: false,
  /** The `this` of the outermost response call in progress: Node's own nested calls on it are internal. */
  active: null as object | null,
};

/** Runs `work` with every wrapper in pass-through (nesting-safe). */
export function asReporter<T>(work: () => T): T {
  const previous = flags.reporting;
  flags.reporting = true;
  try {
    return work();
  } finally {
    flags.reporting = previous;
  }
}

/** Functions endguard installs on an instance (compression's res.write/res.end/res.flush): never the app's own wrapper. */
export const agentInstanceMethods = new WeakSet<Function>();
