import type { CapturePolicy, Mode, ViolationKind, ViolationReport } from '../types';
import { ANOTHER_EXECUTION, type Capture, type Frame, type PipeRecord, type ResolvedStack, type StreamRecord, type Vocabulary } from '../internal-types';
import { PACKAGE_PATH, formatSite, nearestFrame, resolveStack, userFrame } from '../core/callsite';
import { classify } from '../core/classify';
import { agentInstanceMethods } from '../flags';
import { isEndguardWrapper } from '../patch/wrap';
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
  /** The run of a repeating timer that made the late call (patch/record.ts repeatingRun()); -1 outside one. */
  lateRun: number;
  record: StreamRecord | undefined;
  clientDisconnect: boolean;
  /**
   * The other side ended the connection (a net.Socket after the peer's FIN): when no code made
   * the end on record (Node ended the writable side itself), this is a client disconnect.
   */
  peerEnded: boolean;
  /** ms since epoch when the connection closed, 0 when unknown. */
  closedAt: number;
  /** The close code the peer sent (WebSocket), when known. */
  closeCode: number | null;
  /**
   * Code directories of stream implementations outside node:stream (each loaded copy of
   * readable-stream's lib/, minipass's dist/): their frames are stream internals, like Node's own.
   */
  implementations: readonly string[];
  mode: Mode;
  capture: CapturePolicy;
  /** Why the capture policy kept no end site, when it explains a missing one (armed, budget exhausted). */
  missedCapture: string | null;
  /** How the stream's own state says it ended, when no call was recorded (LateFacts.stateEnd). */
  stateEnd: { method: string | null; note: string } | null;
  /** Frames an end capture keeps (ENDGUARD_STACK_DEPTH). */
  stackDepth: number;
  /** ms since epoch of the late call (closedAgoMs is counted to it, not to when the report was built). */
  lateAt: number;
}

interface Side {
  stack: ResolvedStack | null;
  site: Frame | null;
  fromPipe: boolean;
  /** The pipe whose internals made the call, when fromPipe. */
  pipe?: PipeRecord;
  /** The stack's frames below the app's own wrappers of the method (all of them when none). */
  callerFrames?: readonly Frame[];
  pipeStack: ResolvedStack | null;
  /** The call came straight from code outside Node (user or dependency), not from Node's internals. */
  direct: boolean;
}

function sourceEnded(source: object): boolean {
  const s = source as { readableEnded?: unknown; destroyed?: unknown };
  return s.readableEnded === true || s.destroyed === true;
}

/**
 * The pipe behind an internal call: for the end, the first whose source finished; for the late
 * call, one that is not the end's (`other`): still flowing, else the last to finish (a second
 * source's own end, ending the destination again).
 */
function pickPipe(pipes: readonly PipeRecord[], wantEnded: boolean, other: PipeRecord | undefined): PipeRecord | undefined {
  if (wantEnded) return pipes.find((p) => sourceEnded(p.source)) ?? pipes[0];
  const others = pipes.filter((p) => p !== other);
  return others.find((p) => !sourceEnded(p.source)) ?? others[others.length - 1] ?? pipes[0];
}

const NO_SIDE: Side = { stack: null, site: null, fromPipe: false, pipeStack: null, direct: false };

/** The stack with the frames of a stream implementation (readable-stream, minipass) counted as internal. */
function internalize(stack: ResolvedStack | null, implementations: readonly string[]): ResolvedStack | null {
  if (stack === null || implementations.length === 0) return stack;
  const inside = (f: Frame) => f.kind === 'dependency' && implementations.some((dir) => f.file.startsWith(dir));
  if (!stack.frames.some(inside)) return stack;
  // a copy: the resolved stack is cached per capture and may serve another report
  return { text: stack.text, frames: stack.frames.map((f) => (inside(f) ? { ...f, kind: 'internal' as const } : f)) };
}

function side(
  capture: Capture | null,
  header: [string, string],
  pipes: readonly PipeRecord[] | null,
  wantEnded: boolean,
  implementations: readonly string[],
  /** The stream and the call, to see through the app's own instance wrapper of that method. */
  target: object,
  method: string | null,
  other?: PipeRecord,
): Side {
  const stack = internalize(resolveStack(capture, header[0], header[1]), implementations);
  const frames = stack?.frames ?? [];
  // the app's own wrapper of the method is not the caller: who called it is
  const lead = wrapperFrames(frames, method, ownMethodName(target, method));
  const top = frames[lead];
  // called by stream internals (pipe's ondata/onend, pipeline): the pipe() that set it up is the site
  const fromInternals = stack !== null && (top === undefined || top.kind === 'internal');
  if (fromInternals && pipes !== null && pipes.length > 0) {
    const pipe = pickPipe(pipes, wantEnded, other);
    const pipeStack = internalize(resolveStack(pipe?.capture ?? null, 'Error', 'pipe() set up here'), implementations);
    const viaPipe = pipeStack === null ? null : nearestFrame(pipeStack.frames);
    return { stack, site: viaPipe, fromPipe: true, pipe, pipeStack, direct: false };
  }
  const callerFrames = lead > 0 ? frames.slice(lead) : frames;
  const site = stack === null ? null : ((lead > 0 ? userFrame(callerFrames) : null) ?? nearestFrame(frames));
  return { stack, site, fromPipe: false, pipeStack: null, direct: !fromInternals, callerFrames };
}

/**
 * The app swapped the method on the instance (`res.write = function (chunk) { count(chunk);
 * return write.call(this, chunk) }`) or overrode it in its subclass (`write(chunk) { return
 * super.write(trim(chunk)) }`): its wrapper is the direct caller, the same frame for every
 * call, and the site is the app's call of it. The method's name when it has one ('' for a
 * function expression assigned to a property); null when the method is endguard's wrapper
 * itself (Node's and the libraries' own overrides are told apart by the frame, below).
 */
function ownMethodName(target: object, method: string | null): string | null {
  try {
    if (method === null) return null;
    const own = (target as Record<string, unknown>)[method];
    return typeof own === 'function' && !agentInstanceMethods.has(own) && !isEndguardWrapper(own) ? own.name : null;
  } catch {
    return null;
  }
}

/** A frame inside the app's wrapper of `method`: V8 names it `res.write` (a function expression assigned to it) or by its own name. */
function inWrapper(frame: Frame | undefined, method: string, ownName: string): boolean {
  const fn = frame?.fn;
  if (frame?.kind !== 'user' || fn == null) return false;
  return fn === method || fn.endsWith(`.${method}`) || (ownName !== '' && fn === ownName);
}

/** How many frames at the top are inside the app's own wrappers of `method` (nested ones too). */
function wrapperFrames(frames: readonly Frame[], method: string | null, ownName: string | null): number {
  if (method === null || ownName === null) return 0;
  let i = 0;
  while (inWrapper(frames[i], method, ownName)) i++;
  return i;
}

/** The installed package (its directory: one copy) a dependency's frame is in; null for any other frame. */
function packageDirOf(frame: Frame | undefined): string | null {
  if (frame === undefined || frame.kind !== 'dependency') return null;
  const match = PACKAGE_PATH.exec(frame.file);
  return match === null ? null : frame.file.slice(0, match.index + match[0].length);
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
  const endMethod = record?.endMethod ?? (handoff === null ? (call.stateEnd?.method ?? null) : record!.handoffMethod);

  const implementations = call.implementations;
  const endCall = useHeader ? (record?.headerMethod ?? null) : endMethod;
  let end = call.clientDisconnect
    ? NO_SIDE
    : side(endCapture, ['Error', `${useHeader ? 'headers sent' : (endMethod ?? 'end') + '()'} here`], pipes, true, implementations, call.target, endCall);
  const late = side(call.lateCapture, [lateHeader(call), call.message], pipes, false, implementations, call.target, call.method, end.pipe);
  // the peer ended the connection (or reset an HTTP/2 stream) and Node ended this side after it:
  // no frame of code on its stack
  const streamReset = !call.clientDisconnect && !end.fromPipe && end.site === null && closedByHttp2Reset(end.stack?.frames);
  const clientDisconnect = call.clientDisconnect || ((call.peerEnded || streamReset) && !end.fromPipe && end.site === null);
  if (clientDisconnect) end = NO_SIDE;
  const closedAt = streamReset ? (record?.endTime ?? 0) : call.closedAt;

  const endUser = end.fromPipe ? null : end.site;
  const lateUser = late.fromPipe ? null : late.site;
  if (origins !== undefined) {
    origins.endByCode = end.fromPipe || (end.direct && end.site !== null);
    origins.lateByCode = late.fromPipe || (late.direct && late.site !== null);
    origins.endUser = end.site?.kind === 'user';
    origins.lateUser = late.site?.kind === 'user';
    origins.lateDirect = late.direct;
    const library = packageDirOf(end.stack?.frames[0]);
    origins.sameLibrary = library !== null && library === packageDirOf(late.stack?.frames[0]);
  }
  // another request's handler made the late call: known without the end's record (armed)
  const sameExecution =
    call.lateAsyncId === ANOTHER_EXECUTION
      ? false
      : record !== undefined && record.endAsyncId > 0 && call.lateAsyncId > 0
        ? record.endAsyncId === call.lateAsyncId && record.endRun === call.lateRun
        : null;

  const { cause, hint } = classify({
    kind: call.kind,
    method: call.method,
    vocabulary: call.vocabulary,
    endFrames: end.stack === null ? null : (end.callerFrames ?? end.stack.frames),
    lateFrames: late.callerFrames ?? late.stack?.frames ?? [],
    endFromPipe: end.fromPipe,
    lateFromPipe: late.fromPipe,
    pipeCount: pipes?.length ?? 0,
    sameExecution,
    clientDisconnect,
    endCall: endUser?.kind === 'dependency' && call.vocabulary.frameworkEnd !== undefined ? call.vocabulary.frameworkEnd : callAt(endUser),
    lateCall: callAt(lateUser),
    between: linesBetween(endUser, lateUser),
    headersFlushedBy: useHeader ? (record?.headerMethod ?? null) : null,
    lateHeaderCall:
      late.direct && late.site?.kind === 'user' && (call.vocabulary.ownCalls === true || late.stack?.frames[0]?.kind === 'user'),
    endHandedOff: !end.fromPipe && endCapture !== null && endCapture === record?.handoffCapture,
    routedAfterEnd: record?.routedAfterEnd === true,
  });

  function reportedEndMethod(): string | null {
    // Node's own close of a reset HTTP/2 stream is no call of anyone's, nor a client's going away
    // with no end on record (a hand-off the late send itself recorded is not one)
    if (streamReset || (clientDisconnect && record?.endMethod == null)) return null;
    // headers a pipe's first write sent: that write, at the pipe's site
    if (end.fromPipe && !(useHeader && record?.headerMethod === 'write')) return 'pipe';
    return useHeader ? (record?.headerMethod ?? endMethod) : endMethod;
  }

  const report: ViolationReport = {
    endguard: 1,
    kind: call.kind,
    type: call.type,
    code: call.code,
    method: call.method,
    endMethod: reportedEndMethod(),
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
  if (report.endSite === null) report.endSiteNote = streamReset ? HTTP2_RESET_NOTE : endSiteNote(call, endCapture, clientDisconnect, end.stack?.frames.length ?? 0);
  if (clientDisconnect && closedAt > 0) {
    report.closedAt = new Date(closedAt).toISOString();
    report.closedAgoMs = Math.max(0, call.lateAt - closedAt);
  }
  if (clientDisconnect && call.closeCode !== null) report.closeCode = call.closeCode;
  lateFunctions.set(report, late.fromPipe ? null : (late.site?.fn ?? null));
  return report;
}

/** The late site's function name as V8 knows it (null when anonymous), for OpenTelemetry's code.function.name. */
const lateFunctions = new WeakMap<ViolationReport, string | null>();

export function lateFunctionOf(report: ViolationReport): string | null {
  return lateFunctions.get(report) ?? null;
}

const HTTP2_RESET_NOTE = 'no code ended this stream: the client reset or closed its HTTP/2 stream, then Node closed this side';

/** Node closed an HTTP/2 stream itself because the peer reset or closed it (onStreamClose → closeStream, Node 20–26). */
function closedByHttp2Reset(frames: readonly Frame[] | undefined): boolean {
  return frames !== undefined && frames.some((f) => f.file === 'node:internal/http2/core' && (f.fn === 'closeStream' || f.fn === 'onStreamClose'));
}

function cancelledByApp(capture: Capture | null): boolean {
  const frames = resolveStack(capture, 'Error', 'cancel() here')?.frames;
  return frames !== undefined && frames.some((f) => f.kind === 'user');
}

function endSiteNote(call: LateCall, endCapture: Capture | null, clientDisconnect: boolean, endFrames: number): string {
  if (call.stateEnd !== null && (call.record === undefined || call.record.endMethod === null)) return call.stateEnd.note;
  // 1006 (RFC 6455): the connection closed with no close frame
  if (clientDisconnect && call.closeCode === 1006) return 'no code ended this stream: the connection dropped without a close frame (close code 1006)';
  if (clientDisconnect && call.closeCode !== null) return `no code ended this stream: the peer closed the connection (close code ${call.closeCode})`;
  if (clientDisconnect && call.peerEnded) return 'no code ended this stream: the peer ended the connection (FIN), then Node ended this side';
  // the app's own cancel in the response's 'close' listener (a server adapter's is no code of the app's)
  if (clientDisconnect && call.record?.endMethod === 'cancel' && cancelledByApp(endCapture)) {
    return "the client closed the connection, and your code cancelled this stream in the response's 'close'";
  }
  if (clientDisconnect) return `no code ended this stream: the ${call.type === 'ClientRequest' ? 'server' : 'client'} closed the connection`;
  if (endCapture === null && call.missedCapture !== null) return call.missedCapture;
  if (call.record === undefined || call.record.endMethod === null) {
    return 'the stream was ended or destroyed where endguard could not see it (before endguard loaded, or by Node itself)';
  }
  // the capture stopped at its depth: the app's frame may be below it
  if (endFrames >= call.stackDepth) return `no frame of your code in the ${endFrames} frames captured (ENDGUARD_STACK_DEPTH=${call.stackDepth}): raise it to see deeper`;
  return 'the ending call came from Node or a dependency with no frame of your code on the stack';
}
