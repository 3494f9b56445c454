import { executionAsyncId } from 'node:async_hooks';
import type { ViolationKind, ViolationReport } from '../types';
import type { StreamRecord } from '../internal-types';
import { captureStack } from '../callsite';
import type { SiteOrigins } from '../violation';
import { dedupeKey } from '../dedupe';
import { armKeyOf, ensureRecord, typeNameOf } from '../state';
import { REPORTS_PER_SECOND, runtime } from '../runtime';
import { publishViolation } from '../report/channel';
import { lateError, strictError } from '../mode';
import { failed, type Hook } from './wrap';

const LATE_DEPTH = 20;

export const PASS = 0;
export const DROP = 1;
export const THROW = 2;
export type Action = typeof PASS | typeof DROP | typeof THROW;

const CODES: Record<ViolationKind, [string, string]> = {
  'write-after-end': ['ERR_STREAM_WRITE_AFTER_END', 'write after end'],
  'write-after-destroy': ['ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed'],
  'double-end': ['ERR_STREAM_ALREADY_FINISHED', 'Cannot call end after a stream was finished'],
  'headers-after-sent': ['ERR_HTTP_HEADERS_SENT', 'Cannot set headers after they are sent to the client'],
};

export function codeOf(kind: ViolationKind): string {
  return CODES[kind][0];
}

/** The error a dropped call's callback receives (enforce), matching Node's code and message. */
export function errorFor(kind: ViolationKind): Error {
  const [code, message] = CODES[kind];
  return lateError(code, message);
}

/** Set when the last decision was THROW: the error the wrapper throws at the late call site. */
export let pendingThrow: Error | null = null;

export function takeThrow(): Error {
  const error = pendingThrow ?? new Error('endguard: late call');
  pendingThrow = null;
  return error;
}

export interface LateFacts {
  kind: ViolationKind;
  target: object;
  method: string;
  record: StreamRecord | undefined;
  clientDisconnect?: boolean;
  closedAt?: number;
  /** Node's own code when it differs from the kind's usual one (http2: ERR_HTTP2_HEADERS_SENT). */
  code?: string;
}

function withinBudget(): boolean {
  const second = Math.floor(Date.now() / 1000);
  if (second !== runtime.budgetSecond) {
    runtime.budgetSecond = second;
    runtime.budgetUsed = 0;
  }
  return ++runtime.budgetUsed <= REPORTS_PER_SECOND;
}

function modeAction(kind: ViolationKind): Action {
  const mode = runtime.config.mode;
  if (mode === 'strict') return THROW;
  // Node itself drops a write to a destroyed stream without an 'error' (its callback gets
  // ERR_STREAM_DESTROYED): enforce lets Node do exactly that, keeping its bookkeeping
  // (an end(chunk) still marks the response finished).
  if (mode === 'enforce' && kind !== 'write-after-destroy' && kind !== 'double-end') return DROP;
  return PASS;
}

/**
 * A late call was seen. Captures its stack, builds and publishes the report, and returns
 * what the wrapper must do. `above` is the wrapper: it and everything above it are hidden.
 */
// Formatting, classification and source reading run only when a violation is reported:
// loaded then, not at preload (startup cost).
let violation: typeof import('../violation') | undefined;

export function onLateCall(facts: LateFacts, above: Function): Action {
  const { kind } = facts;
  // Node ends and re-ends its own streams (sockets, http2 client requests): a double end is
  // only a bug when code the user wrote (or piped) did both; enforce never drops it.
  const doubleEnd = kind === 'double-end';
  if (!withinBudget()) {
    runtime.overBudget++;
    const action = modeAction(kind);
    if (action === THROW) pendingThrow = strictError(kind, facts.method, null, 'report budget exceeded, end site not resolved', above);
    return action;
  }
  // deep enough to see the HTTP dispatch or a router below the late call (classification)
  const lateCapture = captureStack(Math.max(runtime.config.stackDepth, LATE_DEPTH), above);
  const [usualCode, message] = CODES[kind];
  const code = facts.code ?? usualCode;
  const origins: SiteOrigins = { endByCode: false, lateByCode: false, endUser: false, lateUser: false, lateDirect: false };
  runtime.reporting = true;
  let report: ViolationReport;
  try {
    violation ??= require('../violation') as typeof import('../violation');
    report = violation.buildReport(
      {
        kind,
        target: facts.target,
        method: facts.method,
        code,
        message,
        lateCapture,
        lateAsyncId: executionAsyncId(),
        record: facts.record,
        clientDisconnect: facts.clientDisconnect === true,
        closedAt: facts.closedAt ?? 0,
        mode: runtime.config.mode,
        capture: runtime.config.capture,
      },
      origins,
    );
  } finally {
    runtime.reporting = false;
  }

  if (doubleEnd) {
    const endKnown = facts.record?.endCapture != null;
    if (!origins.lateByCode || (endKnown && !origins.endByCode)) return PASS;
    if (!endKnown && typeNameOf(facts.target) === 'ClientHttp2Stream') return PASS;
    // both ends inside dependencies (e.g. a WebSocket library closing its own socket): theirs to fix
    if (!origins.endUser && !origins.lateUser) return PASS;
  }

  const record = facts.record ?? ensureRecord(facts.target);
  const repeat = record !== undefined && report.lateSite !== null && record.lastLateSite === report.lateSite;
  if (record !== undefined) record.lastLateSite = report.lateSite;
  if (runtime.config.capture === 'armed' && report.endStack === null && !report.cause.startsWith('client')) {
    runtime.armed.arm(armKeyOf(facts.target));
    runtime.anyArmed = true;
  }
  if (!repeat) {
    report.count = runtime.counter.add(dedupeKey(report.endSite, report.lateSite, kind));
    runtime.reporting = true;
    try {
      publishViolation(report, facts.target, record?.endContext);
    } finally {
      runtime.reporting = false;
    }
  }
  const action = modeAction(kind);
  // strict throws at the caller; a call made by stream internals (a pipe writing or ending its
  // destination) is reported but not thrown into Node's own code
  if (action === THROW && !origins.lateDirect) return PASS;
  if (action === THROW) pendingThrow = strictError(kind, facts.method, report.endSite, report.endSiteNote ?? null, above);
  return action;
}

/** onLateCall behind the wrapper's fence: an internal error disables the hook and passes the call through. */
export function decideLate(hook: Hook, facts: LateFacts, above: Function): Action {
  try {
    return onLateCall(facts, above);
  } catch (error) {
    failed(hook, error);
    return PASS;
  }
}
