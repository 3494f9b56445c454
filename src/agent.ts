import type { Config, StartOptions } from './types';
import { readConfig } from './config';
import { configure, runtime, warnOnce, writeStderr } from './runtime';
import { installPatches, uninstallPatches } from './patch/install';
import { startLog, stopLog } from './report/log';
import { startOtel, stopOtel } from './report/otel';

const GLOBAL_KEY = Symbol.for('endguard');
const OWNER = __filename;

interface GlobalRecord {
  owner: string;
  version: string;
}

function version(): string {
  try {
    return (require('../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function warn(line: string): void {
  writeStderr(line + '\n');
}

let warnedOtherCopy = false;

/**
 * Patches the process and starts the reporters. One instance per process: a second copy of
 * endguard (another install path) stays inactive and warns once. Returns the active config,
 * or null when nothing was started (mode off, or another copy owns the process).
 */
export function startAgent(options: StartOptions = {}): Config | null {
  const holder = globalThis as unknown as Record<symbol, GlobalRecord | undefined>;
  const existing = holder[GLOBAL_KEY];
  if (existing !== undefined && existing.owner !== OWNER) {
    if (!warnedOtherCopy) {
      warnedOtherCopy = true;
      warn(`endguard: another copy (${existing.version}, ${existing.owner}) is already active; this one (${__filename}) stays inactive`);
    }
    return null;
  }
  if (runtime.enabled) {
    if (Object.keys(options).length > 0) {
      warnOnce('restart', 'endguard: already started (preloaded, or start() called before): these start() options are ignored; call stop() first to change them');
    }
    return runtime.config;
  }
  const { config, warnings } = readConfig(process.env, options);
  for (const line of warnings) warn(line);
  if (config.mode === 'off') return null;
  configure(config);
  holder[GLOBAL_KEY] = { owner: OWNER, version: version() };
  installPatches();
  startLog(config);
  startOtel(config);
  runtime.enabled = true;
  return config;
}

/** Restores the original methods and unsubscribes the reporters. */
export function stopAgent(): void {
  if (!runtime.enabled) return;
  runtime.enabled = false;
  uninstallPatches();
  stopLog();
  stopOtel();
  runtime.armed.clear();
  runtime.anyArmed = false;
  runtime.counter.clear();
  const holder = globalThis as unknown as Record<symbol, GlobalRecord | undefined>;
  if (holder[GLOBAL_KEY]?.owner === OWNER) delete holder[GLOBAL_KEY];
}
