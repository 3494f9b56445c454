import type { Capture } from '../internal-types';
import type { Config } from '../types';
import { ArmedKeys, armKeyOf, routeKeyOf } from '../core/arming';
import { CaptureBudget } from '../core/capture-budget';

const ErrorCtor = Error as ErrorConstructor & { stackTraceLimit: number };

// The capture policy: whether an end, destroy, header flush or pipe captures its call site.
// - always: every one;
// - armed: only those of a key (route or stream type) that produced a violation while
//   nothing was captured;
// - budget: every one while the measured cost of the captures stays inside a CPU budget,
//   sampled beyond it, with armed keys first.
const ALWAYS = 0;
const ARMED = 1;
const BUDGET = 2;
let policy = ALWAYS;
const armed = new ArmedKeys();
/** Set when the first key is armed: until then no end pays for a key lookup. */
let anyArmed = false;
let budget = new CaptureBudget(6000, 0);

/**
 * Milliseconds, monotonic, sub-µs resolution: performance.now() (no allocation, unlike
 * process.hrtime.bigint(); ~100 ns a call less in a saturated server), whose module costs ~1 ms
 * to load: loaded at the first end the budget decides, not at preload.
 */
let clock: { now(): number } | null = null;
function nowMs(): number {
  clock ??= (require('node:perf_hooks') as typeof import('node:perf_hooks')).performance;
  return clock.now();
}

/** How often the process's CPU use is read for the budget's refill (one getrusage call). */
const LOAD_SAMPLE_MS = 250;
let loadSampledAt = 0;
let cpuAtSample = 0;

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function sampleLoad(now: number): void {
  const cpu = cpuMicros();
  if (loadSampledAt > 0) budget.setLoad((cpu - cpuAtSample) / ((now - loadSampledAt) * 1000));
  loadSampledAt = now;
  cpuAtSample = cpu;
}

export function configureCapture(config: Pick<Config, 'capture' | 'captureBudget'>): void {
  policy = config.capture === 'always' ? ALWAYS : config.capture === 'armed' ? ARMED : BUDGET;
  armed.clear();
  anyArmed = false;
  budget = new CaptureBudget(config.captureBudget * 1000, nowMs());
  loadSampledAt = 0;
}

/** Route templates a framework's patch noted on a response (Fastify's): Express's are read off the request. */
const templates = new WeakMap<object, string>();

export function noteRouteTemplate(res: object, template: string): void {
  templates.set(res, template);
}

/** Is any key armed? Until then a framework's patch need not note its route templates. */
export function keysArmed(): boolean {
  return anyArmed;
}

/** The key of the route a response answers, by its template (Express's, or one a framework's patch noted). */
function routeKey(stream: object): string | undefined {
  return routeKeyOf(stream, templates.get(stream));
}

/** Armed by its route template (every path of `/users/:id`) or by its path. */
function isArmed(stream: object): boolean {
  if (!anyArmed) return false;
  const route = routeKey(stream);
  return (route !== undefined && armed.has(route)) || armed.has(armKeyOf(stream));
}

/**
 * While an AbortController's abort() runs (abort.ts): the streams its signal destroys (`{ signal }`,
 * addAbortSignal, minipass) are destroyed five or six frames of Node's event dispatch below the
 * app's abort() call, deeper than a default capture reaches. Those captures go as deep as a pipe's.
 */
let aborting = 0;
const ABORT_DEPTH = 12;

/** Runs an abort() with ends captured deep enough to reach its caller. */
export function whileAborting(run: () => unknown): unknown {
  aborting++;
  try {
    return run();
  } finally {
    aborting--;
  }
}

/**
 * The site of an end/destroy/header flush/pipe, captured if the policy wants it now (null
 * otherwise). Under the budget policy the capture's own cost is measured and charged.
 */
export function captureSite(stream: object, depth: number, above: Function): Capture | null {
  let start = 0;
  if (policy === ARMED) {
    if (!isArmed(stream)) return null;
  } else if (policy === BUDGET) {
    start = nowMs();
    if (start - loadSampledAt >= LOAD_SAMPLE_MS) sampleLoad(start);
    // the key lookup (it builds a string) only when the bucket is empty
    if (!budget.allows(start) && !(anyArmed && isArmed(stream) && budget.allowsDebt())) {
      budget.refuse(start);
      return null;
    }
  }
  // captureStack's body, inline: V8 summarizes every frame between this call and `above` as it
  // walks (≈ 0.5–1 µs each in a server), so a helper here would cost every captured end a frame
  const holder: Capture = {};
  const previous = ErrorCtor.stackTraceLimit;
  try {
    ErrorCtor.stackTraceLimit = aborting === 0 ? depth : Math.max(depth, ABORT_DEPTH);
    Error.captureStackTrace(holder, above);
  } finally {
    ErrorCtor.stackTraceLimit = previous;
  }
  if (policy === BUDGET) budget.charge((nowMs() - start) * 1000);
  return holder;
}

/** The armed policy with nothing armed: no end is captured, and no record holds a hand-off to reuse. */
export function capturesNothing(): boolean {
  return policy === ARMED && !anyArmed;
}

/**
 * Is anything being captured at all? When not, Node's nested calls need no marking and the
 * header flush keeps nothing.
 */
export function capturing(): boolean {
  if (policy === ALWAYS || anyArmed) return true;
  // budget: not while the bucket was empty at the last end (a saturated process marks nothing:
  // Node's nested calls matter only to a response whose end or flush was captured)
  return policy === BUDGET && !budget.exhausted();
}

/** A violation had no end site: capture this stream's key from now on (armed and budget policies). */
export function armFor(stream: object): void {
  if (policy === ALWAYS) return;
  armed.arm(armKeyOf(stream));
  // the route's other paths too, where a template is known: an end made before the framework
  // matched the route (a middleware) is found by its path
  const route = routeKey(stream);
  if (route !== undefined) armed.arm(route);
  anyArmed = true;
}

/** Why an end was not captured, for the report; null when the policy does not explain it. */
export function missedCaptureNote(): string | null {
  if (policy === ARMED) return 'armed capture: the end site is recorded from the next occurrence of this route or stream type';
  if (policy === BUDGET && budget.lastSkipAt > nowMs() - 2000) {
    const share = Math.round(budget.share() * 100);
    return `capture budget (${budget.perSecondUs / 1000} ms/s) exhausted: this end was not sampled (${share} % of ends captured in the last second); its route or stream type is captured from its next occurrence`;
  }
  return null;
}
