/** What endguard does with a late call. */
export type Mode = 'observe' | 'enforce' | 'strict' | 'off';
/** Where reports are written (stderr). */
export type LogFormat = 'pretty' | 'json' | 'off';
/** When the ending call site is captured. */
export type CapturePolicy = 'always' | 'budget' | 'armed';

export type ViolationKind = 'write-after-end' | 'write-after-destroy' | 'double-end' | 'headers-after-sent';

export type Cause =
  | 'missing-return'
  | 'double-send'
  | 'headers-already-sent'
  | 'next-after-send'
  | 'late-callback'
  | 'late-subscriber'
  | 'pipe-ended'
  | 'pipe-multiple-sources'
  | 'pipe-and-end'
  | 'client-disconnect'
  | 'destroyed'
  | 'double-end'
  | 'unknown';

export interface Config {
  readonly mode: Mode;
  readonly log: LogFormat;
  readonly capture: CapturePolicy;
  /** budget policy: CPU milliseconds per second the end-site captures may cost. */
  readonly captureBudget: number;
  /** Frames kept per captured stack. */
  readonly stackDepth: number;
  /** Log lines per second, across all keys. */
  readonly rateLimit: number;
  /** Seconds during which a repeated (endSite, lateSite, kind) is counted instead of printed. */
  readonly dedupeWindow: number;
}

/** One violation: the JSON line, and the diagnostics_channel message (plus `target`). */
export interface ViolationReport {
  endguard: 1;
  kind: ViolationKind;
  /** Whose object: the stream's class (ServerResponse, PassThrough, Socket) or the framework object. */
  type: string;
  /** The error code of the late call (Node's, or the library's); null when the library raises none (Koa). */
  code: string | null;
  /** The late method: write, end, setHeader, writeHead, enqueue, send, ... */
  method: string;
  /** The call that ended the stream: end, destroy, writeHead, pipe, close, cancel, ..., or null when unknown. */
  endMethod: string | null;
  endStack: string | null;
  endSite: string | null;
  lateStack: string;
  lateSite: string | null;
  cause: Cause;
  hint: string;
  /** Occurrences of this (endSite, lateSite, kind) so far, this one included. */
  count: number;
  mode: Mode;
  capture: CapturePolicy;
  /** Why endSite is null, when it is. */
  endSiteNote?: string;
  /** For client-disconnect: when the connection closed (ISO 8601) and how long before the late call. */
  closedAt?: string;
  closedAgoMs?: number;
  /** For a WebSocket closed by the peer: the close code it sent (1006: the connection dropped without a close frame). Never the reason text. */
  closeCode?: number;
}

/** Published on diagnostics_channel `endguard:violation`. `target` is non-enumerable. */
export interface ViolationMessage extends ViolationReport {
  readonly target: object;
}

export interface StartOptions extends Partial<Config> {}
