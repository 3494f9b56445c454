import type { CapturePolicy, Mode, ViolationKind, ViolationReport } from '../types';
import type { Capture, Frame, PipeRecord, ResolvedStack, StreamRecord, Vocabulary } from '../internal-types';
import { formatSite, nearestFrame, resolveStack } from '../core/callsite';
import { classify } from '../core/classify';
import type { SiteOrigins } from '../core/verdict';
import { callExpressionAt, sourceLine, sourceLines } from './source';

/** Everything a report is built from: the late call's facts, resolved by patch/late.ts. */
export interface LateCall {
  kind: ViolationKind;
  target: object;
  type: string;
  method: string;
  code: string | null;
  message: string;
  vocabulary: Vocabulary;
  lateCapture: Capture;
  lateAsyncId: number;
  record: StreamRecord | undefined;
  clientDisconnect: boolean;
  /** ms since epoch when the connection closed, 0 when unknown. */
  closedAt: number;
  mode: Mode;
  capture: CapturePolicy;
  /** Why the capture policy kept no end site, when it explains a missing one (armed, budget exhausted). */
  missedCapture: string | null;
}

interface Side {
  stack: ResolvedStack | null;
  site: Frame | null;
  fromPipe: boolean;
  pipeStack: ResolvedStack | null;
  /** The call came straight from code outside Node (user or dependency), not from Node's internals. */
  direct: boolean;
}

function sourceEnded(source: object): boolean {
  const s = source as { readableEnded?: unknown; destroyed?: unknown };
  return s.readableEnded === true || s.destroyed === true;
}

/** The pipe behind an internal call: the one whose source finished (end) or still flows (late). */
function pickPipe(pipes: readonly PipeRecord[], wantEnded: boolean): PipeRecord | undefined {
  return pipes.find((p) => sourceEnded(p.source) === wantEnded) ?? pipes[0];
}

function side(capture: Capture | null, header: [string, string], pipes: readonly PipeRecord[] | null, wantEnded: boolean): Side {
  const stack = resolveStack(capture, header[0], header[1]);
  const top = stack?.frames[0];
  // called by stream internals (pipe's ondata/onend, pipeline): the pipe() that set it up is the site
  const fromInternals = stack !== null && (top === undefined || top.kind === 'internal');
  if (fromInternals && pipes !== null && pipes.length > 0) {
    const pipe = pickPipe(pipes, wantEnded);
    const pipeStack = resolveStack(pipe?.capture ?? null, 'Error', 'pipe() set up here');
    const viaPipe = pipeStack === null ? null : nearestFrame(pipeStack.frames);
    return { stack, site: viaPipe, fromPipe: true, pipeStack, direct: false };
  }
  const site = stack === null ? null : nearestFrame(stack.frames);
  return { stack, site, fromPipe: false, pipeStack: null, direct: !fromInternals };
}

function callAt(frame: Frame | null): string | null {
  if (frame === null) return null;
  const text = sourceLine(frame.file, frame.line);
  return text === null ? null : callExpressionAt(text, frame.column);
}

function linesBetween(end: Frame | null, late: Frame | null): string[] | null {
  if (end === null || late === null || end.file !== late.file || late.line < end.line) return null;
  return sourceLines(end.file)?.slice(end.line - 1, late.line) ?? null;
}

/** The late stack's first line: `Error [CODE]: message`, or `Error: message` when there is no code. */
function lateHeader(call: LateCall): string {
  return call.code === null ? 'Error' : `Error [${call.code}]`;
}

/**
 * Formats both stacks, picks both sites, classifies. Runs only when a violation is reported;
 * fills `origins` (whose code made each call) for the core's double-end rule and strict mode.
 */
export function buildReport(call: LateCall, origins?: SiteOrigins): ViolationReport {
  const record = call.record;
  const pipes = record?.pipes ?? null;
  const useHeader = call.kind === 'headers-after-sent' && record?.headerCapture != null;
  // not ended yet, but handed to a framework that is still sending it (a second send in flight)
  const handoff = record === undefined || record.handoffPending ? null : record.handoffCapture;
  const endCapture = useHeader ? record!.headerCapture : (record?.endCapture ?? handoff);
  const endMethod = record?.endMethod ?? (handoff === null ? null : record!.handoffMethod);

  const late = side(call.lateCapture, [lateHeader(call), call.message], pipes, false);
  const end = call.clientDisconnect
    ? { stack: null, site: null, fromPipe: false, pipeStack: null, direct: false }
    : side(endCapture, ['Error', `${useHeader ? 'headers sent' : (endMethod ?? 'end') + '()'} here`], pipes, true);

  const endUser = end.fromPipe ? null : end.site;
  const lateUser = late.fromPipe ? null : late.site;
  if (origins !== undefined) {
    origins.endByCode = end.fromPipe || (end.direct && end.site !== null);
    origins.lateByCode = late.fromPipe || (late.direct && late.site !== null);
    origins.endUser = end.site?.kind === 'user';
    origins.lateUser = late.site?.kind === 'user';
    origins.lateDirect = late.direct;
  }
  const sameExecution =
    record !== undefined && record.endAsyncId > 0 && call.lateAsyncId > 0 ? record.endAsyncId === call.lateAsyncId : null;

  const { cause, hint } = classify({
    kind: call.kind,
    method: call.method,
    vocabulary: call.vocabulary,
    endFrames: end.stack?.frames ?? null,
    lateFrames: late.stack?.frames ?? [],
    endFromPipe: end.fromPipe,
    lateFromPipe: late.fromPipe,
    pipeCount: pipes?.length ?? 0,
    sameExecution,
    clientDisconnect: call.clientDisconnect,
    endCall: callAt(endUser),
    lateCall: callAt(lateUser),
    between: linesBetween(endUser, lateUser),
    headersFlushedBy: useHeader ? (record?.headerMethod ?? null) : null,
    lateHeaderCall:
      late.direct && late.site?.kind === 'user' && (call.vocabulary.ownCalls === true || late.stack?.frames[0]?.kind === 'user'),
    endHandedOff: !end.fromPipe && endCapture !== null && endCapture === record?.handoffCapture,
  });

  const report: ViolationReport = {
    endguard: 1,
    kind: call.kind,
    type: call.type,
    code: call.code,
    method: call.method,
    endMethod: end.fromPipe ? 'pipe' : useHeader ? (record?.headerMethod ?? endMethod) : endMethod,
    endStack: end.fromPipe && end.pipeStack !== null ? end.pipeStack.text : (end.stack?.text ?? null),
    endSite: end.site === null ? null : formatSite(end.site),
    lateStack: late.stack?.text ?? `${lateHeader(call)}: ${call.message}`,
    lateSite: late.site === null ? null : formatSite(late.site),
    cause,
    hint,
    count: 1,
    mode: call.mode,
    capture: call.capture,
  };
  if (report.endSite === null) report.endSiteNote = endSiteNote(call, endCapture);
  if (call.clientDisconnect && call.closedAt > 0) {
    report.closedAt = new Date(call.closedAt).toISOString();
    report.closedAgoMs = Math.max(0, Date.now() - call.closedAt);
  }
  return report;
}

function endSiteNote(call: LateCall, endCapture: Capture | null): string {
  if (call.clientDisconnect) return 'no code ended this stream: the client closed the connection';
  if (endCapture === null && call.missedCapture !== null) return call.missedCapture;
  if (call.record === undefined || call.record.endMethod === null) {
    return 'the stream was ended or destroyed where endguard could not see it (before endguard loaded, or by Node itself)';
  }
  return 'the ending call came from Node or a dependency with no frame of your code on the stack';
}
