import { StreamRecord } from './internal-types';

/** Returns its argument from the constructor, so a subclass's private field lands on any object. */
class Stamp {
  constructor(target: object) {
    return target;
  }
}

/**
 * The per-stream slot is a class private field stamped onto the stream: like a non-enumerable
 * symbol it is invisible to util.inspect, Object.keys, JSON and Reflect.ownKeys, but it is
 * added by a plain store. Object.defineProperty of a symbol on a ServerResponse measured
 * 1.7 µs per response (a slow runtime path that can also turn the object's map into a
 * dictionary and slow every later property access in Node's http code); this is ~0.2 µs.
 */
class RecordSlot extends Stamp {
  #record: StreamRecord | undefined;

  static get(stream: object): StreamRecord | undefined {
    return #record in stream ? (stream as RecordSlot).#record : undefined;
  }

  static attach(stream: object, record: StreamRecord): void {
    new RecordSlot(stream);
    (stream as RecordSlot).#record = record;
  }
}

/** The stream's record, or undefined. Never creates one. */
export function recordOf(stream: object): StreamRecord | undefined {
  return RecordSlot.get(stream);
}

/** The stream's record, created on first use. */
export function ensureRecord(stream: object): StreamRecord | undefined {
  const existing = RecordSlot.get(stream);
  if (existing !== undefined) return existing;
  const record = new StreamRecord();
  try {
    RecordSlot.attach(stream, record);
  } catch {
    // objects that refuse new private fields (non-extensible, on V8s that enforce it): no
    // state, no capture; late calls are still seen
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
