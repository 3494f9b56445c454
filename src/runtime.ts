import type { Config } from './types';
import { ArmedKeys, armKeyOf } from './state';
import { OccurrenceCounter } from './dedupe';

/** The agent's mutable process-wide state, read on the hot path. */
export const runtime = {
  config: undefined as unknown as Config,
  enabled: false,
  captureAlways: false,
  /** True while endguard itself formats, logs or publishes: every wrapper is then pass-through. */
  reporting: false,
  /** The `this` of the outermost response call in progress: Node's own nested calls on it are internal. */
  active: null as object | null,
  armed: new ArmedKeys(),
  /** Set when the first key is armed: until then no end pays for a key lookup. */
  anyArmed: false,
  counter: new OccurrenceCounter(),
  /** Set by the OpenTelemetry reporter when a tracer provider is registered: the context to keep at end time. */
  captureContext: null as null | (() => unknown),
  /** Full reports built in the current second; past the budget, violations are only counted. */
  budgetSecond: 0,
  budgetUsed: 0,
  overBudget: 0,
};

export const REPORTS_PER_SECOND = 100;

export function configure(config: Config): void {
  runtime.config = config;
  runtime.captureAlways = config.capture === 'always';
}

/** Should this end/destroy/pipe capture its call site now? */
export function shouldCapture(stream: object): boolean {
  if (runtime.captureAlways) return true;
  return runtime.anyArmed && runtime.armed.has(armKeyOf(stream));
}

/** Writes to stderr with every wrapper in pass-through (process.stderr is itself a stream). */
export function writeStderr(text: string): void {
  runtime.reporting = true;
  try {
    process.stderr.write(text);
  } catch {
    // stderr gone: nothing else to do
  } finally {
    runtime.reporting = false;
  }
}

const warnedKeys = new Set<string>();
/** One line on stderr per key. */
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
