import type { Config, StartOptions } from './types';
import { VIOLATION_CHANNEL, startAgent, stopAgent } from './bundle';

export type {
  CapturePolicy,
  Cause,
  Config,
  LogFormat,
  Mode,
  StartOptions,
  ViolationKind,
  ViolationMessage,
  ViolationReport,
} from './types';

export { VIOLATION_CHANNEL };

/**
 * Starts endguard in this process (idempotent). Options override the ENDGUARD_* variables
 * and are validated the same way. Returns the active config, or null when not started.
 */
export function start(options?: StartOptions): Config | null {
  return startAgent(options);
}

/** Stops endguard: original methods restored, reporters unsubscribed. */
export function stop(): void {
  stopAgent();
}
