import type { Config, StartOptions } from './types';
import { readConfig } from './config';
import { flags } from './flags';
import { warnOnce, writeStderr } from './stderr';
import { packageVersion } from './version';
import { configureCapture } from './patch/capture';
import { configureLate } from './patch/late';
import { installPatches, uninstallPatches } from './patch/install';
import { startLog, stopLog } from './report/log';
import { startOtel, stopOtel } from './report/otel';
import { startOtelMetrics, stopOtelMetrics } from './report/otel-metrics';
import { lazy } from './lazy-load';

/** One instance per process: the record of the copy of endguard that owns it. */
const GLOBAL_KEY = Symbol.for('endguard');
const OWNER = __filename;

interface GlobalRecord {
  owner: string;
  /** Read only when another copy warns about this one. */
  readonly version: string;
}

const holder = globalThis as unknown as Record<symbol, GlobalRecord | undefined>;
/** The reporter for the endguard CLI runs (report/process-file.ts). */
let processFile = false;

/**
 * Patches the process and starts the reporters. A second copy of endguard (another install
 * path) stays inactive and warns once. Returns the active config, or null when nothing was
 * started (mode off, or another copy owns the process).
 */
export function startAgent(options: StartOptions = {}): Config | null {
  const existing = holder[GLOBAL_KEY];
  if (existing !== undefined && existing.owner !== OWNER) {
    warnOnce('other-copy', `endguard: another copy (${existing.version}, ${existing.owner}) is already active; this one (${OWNER}) stays inactive`);
    return null;
  }
  if (flags.enabled) {
    if (Object.keys(options).length > 0) {
      warnOnce('restart', 'endguard: already started (preloaded, or start() called before): these start() options are ignored; call stop() first to change them');
    }
    return flags.config;
  }
  const { config, warnings, reportDir } = readConfig(process.env, options);
  for (const line of warnings) writeStderr(line + '\n');
  if (config.mode === 'off') return null;
  flags.config = config;
  configureCapture(config);
  configureLate(config.rateLimit, config.dedupeWindow * 1000);
  holder[GLOBAL_KEY] = {
    owner: OWNER,
    get version() {
      return packageVersion();
    },
  };
  installPatches();
  startLog(config);
  startOtel();
  startOtelMetrics();
  // only under the endguard CLI
  processFile = reportDir !== null;
  if (reportDir !== null) lazy().startProcessFile(reportDir);
  flags.enabled = true;
  return config;
}

/** Restores the original methods and unsubscribes the reporters. */
export function stopAgent(): void {
  if (!flags.enabled) return;
  flags.enabled = false;
  uninstallPatches();
  stopLog();
  stopOtel();
  stopOtelMetrics();
  if (processFile) lazy().stopProcessFile();
  processFile = false;
  if (holder[GLOBAL_KEY]?.owner === OWNER) delete holder[GLOBAL_KEY];
}
