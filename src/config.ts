import * as path from 'node:path';
import type { CapturePolicy, Config, LogFormat, Mode } from './types';

const MODES: readonly Mode[] = ['observe', 'enforce', 'strict', 'off'];
const LOGS: readonly LogFormat[] = ['pretty', 'json', 'off'];
const CAPTURES: readonly CapturePolicy[] = ['always', 'budget', 'armed'];

/**
 * ms of CPU per second the budget policy's captures may cost while the process is mostly idle:
 * 1 % of a core. It shrinks as the process nears a full core (core/capture-budget.ts).
 */
export const DEFAULT_CAPTURE_BUDGET = 10;

/**
 * Set by the `endguard` CLI for the processes it runs: the absolute directory where each
 * process appends its reports as they happen (report/process-file.ts). Internal to the CLI:
 * its file format may change between versions.
 */
export const REPORT_DIR_VARIABLE = 'ENDGUARD_REPORT_DIR';

/** One ENDGUARD_* setting: its variable, the allowed values in words, and how a raw value is read. */
export interface Setting {
  key: keyof Config;
  variable: string;
  /** `observe, enforce, strict, off` or `integers 1..100`: the end of the warning line. */
  allowed: string;
  /** The value, or undefined when `raw` is not allowed. */
  parse(raw: string): Config[keyof Config] | undefined;
}

function oneOf<T extends Mode | LogFormat | CapturePolicy>(key: keyof Config, variable: string, values: readonly T[]): Setting {
  return {
    key,
    variable,
    allowed: values.join(', '),
    parse: (raw) => {
      const value = raw.trim().toLowerCase();
      return (values as readonly string[]).includes(value) ? (value as T) : undefined;
    },
  };
}

/** A number within bounds: an integer, or with `decimals` a decimal number (`0.5`, `6`). */
function bounded(key: keyof Config, variable: string, min: number, max: number, decimals = false): Setting {
  const pattern = decimals ? /^[0-9]{1,6}(\.[0-9]{1,3})?$/ : /^[0-9]{1,9}$/;
  return {
    key,
    variable,
    allowed: `${decimals ? 'numbers' : 'integers'} ${min}..${max}`,
    parse: (raw) => {
      const value = raw.trim();
      if (!pattern.test(value)) return undefined;
      const n = Number(value);
      return n >= min && n <= max ? n : undefined;
    },
  };
}

/** Every setting, in the order of the README's table (the CLI turns each into a flag). */
export const SETTINGS: readonly Setting[] = [
  oneOf('mode', 'ENDGUARD_MODE', MODES),
  oneOf('log', 'ENDGUARD_LOG', LOGS),
  oneOf('capture', 'ENDGUARD_CAPTURE', CAPTURES),
  bounded('captureBudget', 'ENDGUARD_CAPTURE_BUDGET', 0.1, 1000, true),
  bounded('stackDepth', 'ENDGUARD_STACK_DEPTH', 1, 100),
  bounded('rateLimit', 'ENDGUARD_RATE_LIMIT', 1, 10000),
  bounded('dedupeWindow', 'ENDGUARD_DEDUPE_WINDOW', 0, 86400),
];

const KNOWN = new Set([...SETTINGS.map((s) => s.variable), REPORT_DIR_VARIABLE]);

function defaults(env: NodeJS.ProcessEnv): Config {
  return {
    mode: 'observe',
    log: 'pretty',
    capture: env.NODE_ENV === 'production' ? 'budget' : 'always',
    captureBudget: DEFAULT_CAPTURE_BUDGET,
    // each captured frame costs ~0.2–0.6 µs inside a server (measured in Express at 1,000
    // req/s: 3.1 µs at 1 frame, 4.0 at 4, 4.9 at 6): 4 reaches the user's frame below Express's
    // res.json → res.send → res.end, and a framework's hand-off is the first frame
    stackDepth: 4,
    rateLimit: 10,
    dedupeWindow: 60,
  };
}

export interface ConfigResult {
  config: Config;
  warnings: string[];
  /** ENDGUARD_REPORT_DIR when it is set to an absolute path, else null. */
  reportDir: string | null;
}

/** Shows a bad value safely: bounded length, control and non-ASCII characters escaped. */
export function show(value: string): string {
  const cut = value.length > 40 ? value.slice(0, 40) + '…' : value;
  return JSON.stringify(cut).replace(/[^\x20-\x7e]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** Environment → frozen Config. Never throws; every bad variable yields one warning. */
export function readConfig(source: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): ConfigResult {
  const warnings: string[] = [];
  // Only the variables read are copied: spreading process.env reads every variable through
  // the environment's accessor (a startup cost that grows with the environment).
  const env: NodeJS.ProcessEnv = { NODE_ENV: source.NODE_ENV };
  for (const name of KNOWN) env[name] = source[name];
  // programmatic options go through the same validation as the environment, and are named as
  // the caller wrote them in a warning
  const fromOption = new Set<string>();
  for (const setting of SETTINGS) {
    const value = (overrides as Record<string, unknown>)[setting.key];
    if (value === undefined) continue;
    env[setting.variable] = String(value);
    fromOption.add(setting.variable);
  }
  const config = defaults(env) as Record<keyof Config, Config[keyof Config]>;
  for (const setting of SETTINGS) {
    const raw = env[setting.variable];
    if (raw === undefined) continue;
    const value = setting.parse(raw);
    if (value !== undefined) config[setting.key] = value;
    else {
      const given = fromOption.has(setting.variable) ? `option ${setting.key}: ${show(raw)}` : `${setting.variable}=${show(raw)}`;
      warnings.push(`endguard: ignoring ${given}: allowed values are ${setting.allowed}; using ${config[setting.key]}`);
    }
  }
  const optionKeys = new Set(SETTINGS.map((s) => s.key as string));
  for (const name of Object.keys(overrides)) {
    if (!optionKeys.has(name)) warnings.push(`endguard: ignoring unknown option ${show(name)}: known are ${[...optionKeys].join(', ')}`);
  }
  for (const name of Object.keys(source)) {
    if (name.startsWith('ENDGUARD_') && !KNOWN.has(name)) {
      warnings.push(`endguard: ignoring unknown variable ${show(name).slice(1, -1)}: known are ${[...KNOWN].join(', ')}`);
    }
  }
  let reportDir = env[REPORT_DIR_VARIABLE] ?? null;
  if (reportDir !== null && !path.isAbsolute(reportDir)) {
    warnings.push(`endguard: ignoring ${REPORT_DIR_VARIABLE}=${show(reportDir)}: must be an absolute path (it is set by the endguard CLI)`);
    reportDir = null;
  }
  return { config: Object.freeze(config as unknown as Config), warnings, reportDir };
}
