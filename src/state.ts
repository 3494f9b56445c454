import { kRecord, StreamRecord } from './internal-types';

/** The stream's record, or undefined. Never creates one. */
export function recordOf(stream: object): StreamRecord | undefined {
  return (stream as { [kRecord]?: StreamRecord })[kRecord];
}

/** The stream's record, created on first use as a non-enumerable symbol property. */
export function ensureRecord(stream: object): StreamRecord | undefined {
  const existing = (stream as { [kRecord]?: StreamRecord })[kRecord];
  if (existing !== undefined) return existing;
  const record = new StreamRecord();
  try {
    Object.defineProperty(stream, kRecord, { value: record, writable: true, configurable: true, enumerable: false });
  } catch {
    // frozen, sealed or exotic objects: no state, no capture; late calls are still seen
    return undefined;
  }
  return record;
}

/**
 * Keys (e.g. "GET /users" or "PassThrough") under which a violation was seen while the
 * armed policy captured nothing: from then on their ends are captured. Bounded and expiring.
 */
export class ArmedKeys {
  private readonly keys = new Map<string, number>();
  constructor(
    private readonly max = 256,
    private readonly ttlMs = 10 * 60_000,
  ) {}

  get size(): number {
    return this.keys.size;
  }

  arm(key: string, now = Date.now()): void {
    this.keys.delete(key);
    this.keys.set(key, now + this.ttlMs);
    if (this.keys.size > this.max) {
      const oldest = this.keys.keys().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
  }

  has(key: string, now = Date.now()): boolean {
    const until = this.keys.get(key);
    if (until === undefined) return false;
    if (until < now) {
      this.keys.delete(key);
      return false;
    }
    return true;
  }

  clear(): void {
    this.keys.clear();
  }
}

/** The armed-policy key of a stream: method + path for HTTP responses, the class name otherwise. */
export function armKeyOf(stream: object): string {
  const req = (stream as { req?: { method?: unknown; originalUrl?: unknown; url?: unknown } }).req;
  if (req !== undefined && req !== null && typeof req === 'object') {
    const url = typeof req.originalUrl === 'string' ? req.originalUrl : typeof req.url === 'string' ? req.url : '';
    const q = url.indexOf('?');
    return `${String(req.method)} ${q === -1 ? url : url.slice(0, q)}`;
  }
  return typeNameOf(stream);
}

export function typeNameOf(stream: object): string {
  try {
    const ctor = (stream as { constructor?: { name?: unknown } }).constructor;
    return typeof ctor?.name === 'string' && ctor.name !== '' ? ctor.name : 'Object';
  } catch {
    return 'Object';
  }
}
