import type { ViolationKind } from '../../types';
import { FIRST_END, FIRST_NONE, type LateFacts, type StreamRecord } from '../../internal-types';
import { webVocabulary, type WebSide } from '../../core/web-hints';
import { flags } from '../../flags';
import { armFor } from '../capture';
import { lateCall, type LateShape } from '../late';
import { failed, type Hook } from '../wrap';
import { extrasFor, refineEnd } from './ends';
import { calledByNode } from './frames';
import { CANCELLED, CLOSING, ERRORED, OPEN, type ReadableStanding, type WritableStanding } from './internals';

/** Node raises ERR_INVALID_STATE for every late call on a web stream (a rejection for the writer). */
const CODE = 'ERR_INVALID_STATE';

const ALL: ReadonlySet<ViolationKind> = new Set(['write-after-end', 'write-after-destroy', 'double-end']);

/** controller.enqueue()/close(): Node throws; enforce drops the call, which returns undefined. */
export const THROWING: LateShape = { drops: ALL, dropped: () => undefined };
/** writer.write()/close(): Node rejects; enforce returns a resolved promise (no unhandled rejection). */
export const REJECTING: LateShape = { drops: ALL, dropped: () => Promise.resolve(), rejects: true };

/** What happened first decides; Node's state when endguard kept nothing (armed capture, ended before it loaded). */
export function webKind(record: StreamRecord | undefined, standing: ReadableStanding | WritableStanding, ending: boolean): ViolationKind {
  const first = record?.first ?? FIRST_NONE;
  const ended = first === FIRST_END || (first === FIRST_NONE && standing === CLOSING);
  if (ended) return ending ? 'double-end' : 'write-after-end';
  return 'write-after-destroy';
}

/** The end a readable side's state implies: close requested, cancelled (closed without a close request), errored. */
export function readableStateEnd(standing: ReadableStanding): string | null {
  return standing === CLOSING ? 'close' : standing === CANCELLED ? 'cancel' : standing === ERRORED ? 'error' : null;
}

export interface WebLate {
  kind: ViolationKind;
  target: object;
  method: string;
  /** Where the ends are kept: the controller, the TransformStream's controller, the WritableStream. */
  holder: object;
  record: StreamRecord | undefined;
  side: WebSide;
  /** The end was kept on a TransformStream's writable side (writer.close/abort). */
  endOnWritable?: boolean;
  /** Node's own message for this late call. */
  message: string;
  /** What Node's state says ended it (close, cancel, error), for the hint when nothing was recorded. */
  stateEnd?: string | null;
  /** Node's state says errored, and no error()/abort()/cancel() was recorded: its own source or sink failed. */
  erroredInside?: boolean;
}

const ERRORED_INSIDE =
  'no call of your code ended it: the stream errored from inside (its underlying source, sink or transformer threw or rejected in start(), pull(), write(), transform(), flush() or close(), or the Node stream behind it failed)';

function factsOf(late: WebLate): LateFacts {
  const { holder } = late;
  const record = refineEnd(holder, late.record);
  // the refinement may have found an earlier end on the other side of a bridge
  const ending = late.method === 'close' || late.method === 'terminate';
  const kind = record !== undefined && record.first !== FIRST_NONE ? webKind(record, OPEN, ending) : late.kind;
  const x = extrasFor(holder);
  const clientDisconnect = kind === 'write-after-destroy' && record?.clientDisconnect === true;
  // the armed policy captures per type: the ends of this family are kept on `holder`, which may
  // be another type than the late call's target (a writer's stream, a TransformStream's readable)
  if (flags.config.capture === 'armed' && record?.endCapture == null && !clientDisconnect) armFor(holder);
  // errored with no end call on record; under armed capture no call was recorded at all (an
  // explicit error() or abort() is not known from one from inside)
  const inside = late.erroredInside === true && record?.endMethod == null && flags.config.capture !== 'armed';
  return {
    kind,
    target: late.target,
    method: late.method,
    record,
    code: CODE,
    message: `Invalid state: ${late.message}`,
    vocabulary: webVocabulary({
      side: late.side,
      // errored from inside: no error() call to name
      endMethod: record?.endMethod ?? (late.erroredInside === true ? null : late.stateEnd) ?? null,
      reason: x?.reason ?? null,
      canceller: x?.canceller ?? null,
      endOnWritable: late.endOnWritable === true,
      erroredInside: inside,
    }),
    clientDisconnect,
    closedAt: clientDisconnect ? (record?.endTime ?? 0) : 0,
    stateEnd: inside ? { method: 'error', note: ERRORED_INSIDE } : undefined,
  };
}

/**
 * A late call on a web stream. Node's own code (its adapters, the bundled undici) handles the
 * late calls it makes itself: they pass through unreported. Everything else goes the one late
 * path (patch/late.ts).
 */
export function lateWebCall(
  hook: Hook,
  late: () => WebLate,
  shape: LateShape,
  self: object,
  original: Function,
  args: unknown[],
  above: Function,
): unknown {
  let facts: LateFacts | null = null;
  try {
    if (!calledByNode(above)) facts = factsOf(late());
  } catch (error) {
    failed(hook, error);
  }
  if (facts === null) return original.apply(self, args);
  // the late path takes IArguments (the node-stream wrappers'); the web methods read only their parameters
  return lateCall(hook, facts, shape, self, original, args as unknown as IArguments, above);
}
