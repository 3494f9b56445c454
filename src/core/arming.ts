import { typeNameOf } from './stream-type';

/**
 * Most keys armed at once. A key is a route or a stream type that produced a violation while
 * nothing was captured; 256 covers every buggy route of a large app, and bounds the per-end
 * lookup and the memory (≈ 30 KB) when ids leak into paths.
 */
export const MAX_ARMED_KEYS = 256;
/**
 * How long a key stays armed. Ten minutes: long enough for a route that misbehaves once a
 * minute to get its end site on the next occurrence, short enough that a fixed bug stops
 * costing a capture per response soon after the deploy.
 */
export const ARMED_TTL_MS = 10 * 60_000;

/**
 * Keys (e.g. "GET /users" or "PassThrough") under which a violation was seen while the armed
 * policy captured nothing: from then on their ends are captured. Bounded and expiring.
 */
export class ArmedKeys {
  private readonly keys = new Map<string, number>();
  constructor(
    private readonly max = MAX_ARMED_KEYS,
    private readonly ttlMs = ARMED_TTL_MS,
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

/**
 * The route-template key of an HTTP response, when its framework matched a route: `template`
 * (noted by a framework's patch: Fastify's routeOptions.url), or Express's req.baseUrl +
 * req.route.path. A route with parameters (`/users/:id`) has one key for every id; undefined
 * when no template is known.
 */
export function routeKeyOf(stream: object, template: string | undefined): string | undefined {
  const req = (stream as { req?: { method?: unknown; baseUrl?: unknown; route?: { path?: unknown } } }).req;
  if (req === undefined || req === null || typeof req !== 'object') return undefined;
  if (template === undefined) {
    const path = req.route?.path;
    if (typeof path !== 'string') return undefined;
    template = (typeof req.baseUrl === 'string' ? req.baseUrl : '') + path;
  }
  return `${String(req.method)} ${template}`;
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
