/**
 * Below this CPU use of the process the whole budget is refilled each second; from it to a
 * full core the refill shrinks linearly to REFILL_FLOOR. A capture costs the same whether the
 * process is idle or saturated, but only a saturated process pays for it in throughput: a
 * server at 1,000 req/s (~3 % of a core) gets every end captured, one at 100 % keeps sampling
 * at a tenth of the budget and its throughput (issue 12: ≥ 0.99 × bare at saturation).
 */
export const FULL_REFILL_BELOW = 0.5;
export const REFILL_FLOOR = 0.1;

/**
 * Most one capture is charged, and never more than OUTLIER_FACTOR × the typical capture. A
 * capture costs 2–15 µs; a measurement far above the typical one means the thread was
 * preempted or a GC ran inside it (on a busy host, p99 is 3–6 × the median), which is not the
 * capture's cost and would drain the budget for nothing.
 */
export const MAX_CHARGE_US = 50;
export const OUTLIER_FACTOR = 2;
/** The typical capture before any was measured (µs): a shallow stack inside a server. */
const FIRST_TYPICAL_US = 5;

/** The share of the budget refilled at a CPU use of `utilization` (0..1, above 1 with busy helper threads). */
export function refillShare(utilization: number): number {
  const share = (1 - utilization) / (1 - FULL_REFILL_BELOW);
  return Math.min(1, Math.max(REFILL_FLOOR, share));
}

/**
 * A CPU budget for end-site captures: a token bucket of microseconds, holding at most one
 * second's worth (`perSecondUs`) and refilled at that rate scaled by the process's CPU use
 * (refillShare); each capture's measured cost is charged to it. While it holds tokens every
 * end is captured; past it, ends are sampled at the rate the budget allows (a capture whenever
 * the bucket has refilled past zero). Ends of armed keys (a route that produced a violation
 * with no end site) may take the bucket one more second into debt. Pure: the clock (ms) and
 * the CPU use are arguments.
 */
export class CaptureBudget {
  private tokens: number;
  /** µs refilled per ms: perSecondUs / 1000 × refillShare(the last CPU use). */
  private refillPerMs: number;
  private refilledAt: number;
  /** Ends seen and captured in the current and the previous one-second window. */
  private windowStart: number;
  private seen = 0;
  private captured = 0;
  private lastShare = -1;
  /** When an end was last skipped for lack of budget (-Infinity: never). */
  lastSkipAt = -Infinity;
  /** A running mean of the charges (µs): the outlier bound follows the app's own stacks. */
  private typical = FIRST_TYPICAL_US;

  constructor(
    readonly perSecondUs: number,
    now: number,
  ) {
    this.tokens = perSecondUs;
    this.refillPerMs = perSecondUs / 1000;
    this.refilledAt = now;
    this.windowStart = now;
  }

  /** The process used `utilization` of a core (0..1+) over the last interval. */
  setLoad(utilization: number): void {
    this.refillPerMs = (this.perSecondUs / 1000) * refillShare(utilization);
  }

  /** Was the bucket empty when last refilled (the last end seen)? */
  exhausted(): boolean {
    return this.tokens <= 0;
  }

  /** The end seen at `now`: may it capture its site on the budget alone? Refills and counts it. */
  allows(now: number): boolean {
    const elapsed = now - this.refilledAt;
    if (elapsed > 0) {
      this.tokens = Math.min(this.perSecondUs, this.tokens + elapsed * this.refillPerMs);
      this.refilledAt = now;
    }
    if (now - this.windowStart >= 1000) {
      this.lastShare = this.seen === 0 ? 1 : this.captured / this.seen;
      this.windowStart = now;
      this.seen = 0;
      this.captured = 0;
    }
    this.seen++;
    if (this.tokens <= 0) return false;
    this.captured++;
    return true;
  }

  /** The bucket is empty: may an armed key's end capture anyway (up to one more second of debt)? */
  allowsDebt(): boolean {
    if (this.tokens <= -this.perSecondUs) return false;
    this.captured++;
    return true;
  }

  /** The end seen at `now` was not captured. */
  refuse(now: number): void {
    this.lastSkipAt = now;
  }

  /** A capture allowed by allows() or allowsDebt() took `costUs`. */
  charge(costUs: number): void {
    // a little above the bound is let through, so that the typical cost can grow to a deeper app's
    const charged = Math.min(costUs, MAX_CHARGE_US, this.typical * OUTLIER_FACTOR + 1);
    this.typical += (charged - this.typical) / 16;
    this.tokens -= charged;
  }

  /** Share of ends captured over the last full one-second window (so far in the first one). */
  share(): number {
    if (this.lastShare >= 0) return this.lastShare;
    return this.seen === 0 ? 1 : this.captured / this.seen;
  }
}
