import type { CapturePolicy, Config, LogFormat, Mode } from './types';

const MODES: readonly Mode[] = ['observe', 'enforce', 'strict', 'off'];
const LOGS: readonly LogFormat[] = ['pretty', 'json', 'off'];
const CAPTURES: readonly CapturePolicy[] = ['always', 'budget', 'armed'];

const KNOWN = new Set([
  'ENDGUARD_MODE',
  'ENDGUARD_LOG',
  'ENDGUARD_CAPTURE',
  'ENDGUARD_CAPTURE_BUDGET',
  'ENDGUARD_STACK_DEPTH',
  'ENDGUARD_RATE_LIMIT',
  'ENDGUARD_DEDUPE_WINDOW',
]);

const OPTION_VARS: Record<keyof Config, string> = {
  mode: 'ENDGUARD_MODE',
  log: 'ENDGUARD_LOG',
  capture: 'ENDGUARD_CAPTURE',
  captureBudget: 'ENDGUARD_CAPTURE_BUDGET',
  stackDepth: 'ENDGUARD_STACK_DEPTH',
  rateLimit: 'ENDGUARD_RATE_LIMIT',
  dedupeWindow: 'ENDGUARD_DEDUPE_WINDOW',
};

/** ms of CPU per second the budget policy's captures may cost. */
export const DEFAULT_CAPTURE_BUDGET = 6;

export interface ConfigResult {
  config: Config;
  warnings: string[];
}

/** Shows a bad value safely: bounded length, control and non-ASCII characters escaped. */
function show(value: string): string {
  const cut = value.length > 40 ? value.slice(0, 40) + '…' : value;
  return JSON.stringify(cut).replace(/[^\x20-\x7e]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

function pick<T extends string>(
  env: NodeJS.ProcessEnv,
  name: string,
  allowed: readonly T[],
  fallback: T,
  warnings: string[],
): T {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const value = raw.trim().toLowerCase();
  if ((allowed as readonly string[]).includes(value)) return value as T;
  warnings.push(`endguard: ignoring ${name}=${show(raw)}: allowed values are ${allowed.join(', ')}; using ${fallback}`);
  return fallback;
}

function integer(
  env: NodeJS.ProcessEnv,
  name: string,
  min: number,
  max: number,
  fallback: number,
  warnings: string[],
): number {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const value = raw.trim();
  if (/^[0-9]{1,9}$/.test(value)) {
    const n = Number(value);
    if (n >= min && n <= max) return n;
  }
  warnings.push(`endguard: ignoring ${name}=${show(raw)}: allowed values are integers ${min}..${max}; using ${fallback}`);
  return fallback;
}

/** A decimal number (`0.5`, `6`) within bounds. */
function decimal(
  env: NodeJS.ProcessEnv,
  name: string,
  min: number,
  max: number,
  fallback: number,
  warnings: string[],
): number {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const value = raw.trim();
  if (/^[0-9]{1,6}(\.[0-9]{1,3})?$/.test(value)) {
    const n = Number(value);
    if (n >= min && n <= max) return n;
  }
  warnings.push(`endguard: ignoring ${name}=${show(raw)}: allowed values are numbers ${min}..${max}; using ${fallback}`);
  return fallback;
}

/** Environment → frozen Config. Never throws; every bad variable yields one warning. */
export function readConfig(source: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): ConfigResult {
  const warnings: string[] = [];
  // Only the variables read are copied: spreading process.env reads every variable through
  // the environment's accessor (a startup cost that grows with the environment).
  const env: NodeJS.ProcessEnv = { NODE_ENV: source.NODE_ENV };
  for (const name of KNOWN) env[name] = source[name];
  // programmatic options go through the same validation as the environment
  for (const [key, name] of Object.entries(OPTION_VARS)) {
    const value = (overrides as Record<string, unknown>)[key];
    if (value !== undefined) env[name] = String(value);
  }
  const captureDefault: CapturePolicy = env.NODE_ENV === 'production' ? 'budget' : 'always';
  const config: Config = {
    mode: pick(env, 'ENDGUARD_MODE', MODES, 'observe', warnings),
    log: pick(env, 'ENDGUARD_LOG', LOGS, 'pretty', warnings),
    capture: pick(env, 'ENDGUARD_CAPTURE', CAPTURES, captureDefault, warnings),
    // 1 % of a core for the whole agent at saturation: the wrappers' own ~0.1–0.2 µs per
    // response and the clock reads take the rest (docs/performance.md)
    captureBudget: decimal(env, 'ENDGUARD_CAPTURE_BUDGET', 0.1, 1000, DEFAULT_CAPTURE_BUDGET, warnings),
    // each captured frame costs ~0.5–0.7 µs inside a server: 6 reaches the user's frame below
    // Express's res.json → res.send → res.end and keeps the per-response capture short
    stackDepth: integer(env, 'ENDGUARD_STACK_DEPTH', 1, 100, 6, warnings),
    rateLimit: integer(env, 'ENDGUARD_RATE_LIMIT', 1, 10000, 10, warnings),
    dedupeWindow: integer(env, 'ENDGUARD_DEDUPE_WINDOW', 0, 86400, 60, warnings),
  };
  for (const name of Object.keys(source)) {
    if (name.startsWith('ENDGUARD_') && !KNOWN.has(name)) {
      warnings.push(`endguard: ignoring unknown variable ${show(name).slice(1, -1)}: known are ${[...KNOWN].join(', ')}`);
    }
  }
  return { config: Object.freeze(config), warnings };
}
