/** Occurrences per (endSite, lateSite, kind); bounded, oldest key dropped first. */
export class OccurrenceCounter {
  private readonly counts = new Map<string, number>();
  constructor(private readonly max = 1000) {}

  /** Counts one more occurrence and returns the total for the key. */
  add(key: string): number {
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.delete(key);
    this.counts.set(key, count);
    if (this.counts.size > this.max) {
      const oldest = this.counts.keys().next().value;
      if (oldest !== undefined) this.counts.delete(oldest);
    }
    return count;
  }

  clear(): void {
    this.counts.clear();
  }
}

export function dedupeKey(endSite: string | null, lateSite: string | null, kind: string): string {
  return `${kind}\u0000${endSite ?? ''}\u0000${lateSite ?? ''}`;
}

/**
 * Per-key print decisions for the log: the first occurrence prints; repeats inside the
 * window are only counted, and the next line after the window says how many were seen.
 * A global token bucket caps lines per second.
 */
export class LogThrottle {
  private readonly keys = new Map<string, { lastPrint: number; seen: number }>();
  private tokens: number;
  private refilledAt: number;
  suppressed = 0;

  constructor(
    private readonly perSecond: number,
    private readonly windowMs: number,
    private readonly maxKeys = 1000,
    now = Date.now(),
  ) {
    this.tokens = perSecond;
    this.refilledAt = now;
  }

  /** 0 when the line is suppressed; else the occurrences since this key last printed. */
  admit(key: string, now = Date.now()): number {
    let entry = this.keys.get(key);
    if (entry === undefined) {
      entry = { lastPrint: -Infinity, seen: 0 };
      this.keys.set(key, entry);
      if (this.keys.size > this.maxKeys) {
        const oldest = this.keys.keys().next().value;
        if (oldest !== undefined) this.keys.delete(oldest);
      }
    }
    entry.seen++;
    if (now - entry.lastPrint < this.windowMs || !this.take(now)) {
      this.suppressed++;
      return 0;
    }
    const seen = entry.seen;
    entry.seen = 0;
    entry.lastPrint = now;
    return seen;
  }

  private take(now: number): boolean {
    const elapsed = now - this.refilledAt;
    if (elapsed > 0) {
      this.tokens = Math.min(this.perSecond, this.tokens + (elapsed * this.perSecond) / 1000);
      this.refilledAt = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
