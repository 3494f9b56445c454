export const FIRST_NONE = 0;
export const FIRST_END = 1;
export const FIRST_DESTROY = 2;
export type FirstEvent = typeof FIRST_NONE | typeof FIRST_END | typeof FIRST_DESTROY;

/** An unformatted V8 stack: the object Error.captureStackTrace filled in. */
export interface Capture {
  stack?: unknown;
}

export interface PipeRecord {
  source: object;
  capture: Capture | null;
}

/** Fixed shape so every stream's record shares one hidden class. */
export class StreamRecord {
  first: FirstEvent = FIRST_NONE;
  endMethod: string | null = null;
  endCapture: Capture | null = null;
  endAsyncId = -1;
  endTime = 0;
  headerCapture: Capture | null = null;
  /** The call that flushed the headers: writeHead, write or end. */
  headerMethod: string | null = null;
  pipes: PipeRecord[] | null = null;
  /** The OpenTelemetry context active at end time (only when a tracer provider is registered). */
  endContext: unknown = undefined;
  clientDisconnect = false;
  lastLateSite: string | null = null;
}

export interface Frame {
  /** A path for files, the raw name otherwise (node:internal/..., file URLs turned into paths). */
  file: string;
  line: number;
  column: number;
  fn: string | null;
  /** Where the enclosing function starts (V8's CallSite), to tell anonymous functions apart; 0 when unknown. */
  fnLine: number;
  fnColumn: number;
  kind: 'user' | 'dependency' | 'internal';
}

export interface ResolvedStack {
  text: string;
  frames: Frame[];
}
