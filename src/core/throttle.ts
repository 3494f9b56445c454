/**
 * Full reports built per second, across the process. A report costs ~50 µs (both stacks
 * formatted, sites picked, source read, classified): 100/s bounds a flood of late writes to
 * ~0.5 % of a core. Past it a violation is only counted (and enforce/strict still act on it).
 */
export const REPORTS_PER_SECOND = 100;
/**
 * Distinct (endSite, lateSite, kind) keys remembered for counting and for the log's dedupe
 * window; beyond, the least recently seen is forgotten (its count restarts). Sites are short
 * strings: 1000 keys stay under ~200 KB even when every late write has its own site.
 */
export const MAX_KEYS = 1000;

/** What happens to one violation that was built into a report. */
export interface Decision {
  /** False for a repeat: the same late site on the same stream (a loop writing to a dead stream) is published once. */
  publish: boolean;
  /** Occurrences of this (endSite, lateSite, kind) so far, this one included. */
  count: number;
  /**
   * For the log: 0 to print nothing (the key printed within the dedupe window, or the line
   * rate is used up); otherwise the occurrences since the key last printed.
   */
  print: number;
  /** When printing a repeat: ms since the key last printed, the span its `print` occurrences fall in (0 otherwise). */
  printSpanMs: number;
}

export function dedupeKey(endSite: string | null, lateSite: string | null, kind: string): string {
  return `${kind}\u0000${endSite ?? ''}\u0000${lateSite ?? ''}`;
}

interface KeyState {
  count: number;
  lastPrint: number;
  sincePrint: number;
}

/**
 * The one place that decides whether a violation is built, published and printed:
 * - `admit()` before anything is built: the report budget (REPORTS_PER_SECOND); double ends
 *   draw on a budget of their own (`admit(now, true)`): most are libraries re-ending their own
 *   streams (ws ends its Receiver from both the socket's 'end' and 'close' on every closing
 *   connection), dropped only once built, and must never starve the reports of real late
 *   writes in the same second;
 * - `decide()` once the report exists: repeat on the same stream, occurrence count, and the
 *   log's dedupe window (`ENDGUARD_DEDUPE_WINDOW`) and line rate (`ENDGUARD_RATE_LIMIT`, a
 *   token bucket: bursts up to one second's worth).
 * Pure: the clock is an argument.
 */
export class Throttle {
  private readonly keys = new Map<string, KeyState>();
  private budgetSecond = -1;
  private budgetUsed = 0;
  private doubleEndsUsed = 0;
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly linesPerSecond: number,
    private readonly windowMs: number,
    now = Date.now(),
    private readonly reportsPerSecond = REPORTS_PER_SECOND,
    private readonly maxKeys = MAX_KEYS,
  ) {
    this.tokens = linesPerSecond;
    this.refilledAt = now;
  }

  /** Is there budget left this second to build a full report (of a double end: on its own budget)? */
  admit(now = Date.now(), doubleEnd = false): boolean {
    const second = Math.floor(now / 1000);
    if (second !== this.budgetSecond) {
      this.budgetSecond = second;
      this.budgetUsed = 0;
      this.doubleEndsUsed = 0;
    }
    if (doubleEnd) return ++this.doubleEndsUsed <= this.reportsPerSecond;
    return ++this.budgetUsed <= this.reportsPerSecond;
  }

  decide(key: string, repeat: boolean, now = Date.now()): Decision {
    if (repeat) return { publish: false, count: this.keys.get(key)?.count ?? 1, print: 0, printSpanMs: 0 };
    let state = this.keys.get(key);
    if (state === undefined) {
      state = { count: 0, lastPrint: -Infinity, sincePrint: 0 };
    } else {
      this.keys.delete(key); // re-inserted below: the map's order is least recently seen first
    }
    this.keys.set(key, state);
    if (this.keys.size > this.maxKeys) {
      const oldest = this.keys.keys().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
    state.count++;
    state.sincePrint++;
    let print = 0;
    let printSpanMs = 0;
    if (now - state.lastPrint >= this.windowMs && this.takeToken(now)) {
      print = state.sincePrint;
      if (state.lastPrint !== -Infinity) printSpanMs = now - state.lastPrint;
      state.sincePrint = 0;
      state.lastPrint = now;
    }
    return { publish: true, count: state.count, print, printSpanMs };
  }

  private takeToken(now: number): boolean {
    const elapsed = now - this.refilledAt;
    if (elapsed > 0) {
      this.tokens = Math.min(this.linesPerSecond, this.tokens + (elapsed * this.linesPerSecond) / 1000);
      this.refilledAt = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
