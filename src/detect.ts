import type { ViolationKind } from './types';
import { FIRST_DESTROY, FIRST_END, type StreamRecord } from './internal-types';

/**
 * What a late write means, decided by what happened FIRST: an ended stream is usually
 * destroyed a moment later, so the current flags alone would misreport it.
 */
export function lateKindForWritable(
  state: { ending?: boolean; destroyed?: boolean },
  record: StreamRecord | undefined,
): ViolationKind {
  if (record !== undefined) {
    if (record.first === FIRST_END) return 'write-after-end';
    if (record.first === FIRST_DESTROY) return 'write-after-destroy';
  }
  return state.ending ? 'write-after-end' : 'write-after-destroy';
}

/** Same decision for http.OutgoingMessage and http2 compat responses. */
export function lateKindForResponse(ended: boolean, record: StreamRecord | undefined): ViolationKind {
  if (record !== undefined) {
    if (record.first === FIRST_END) return 'write-after-end';
    if (record.first === FIRST_DESTROY) return 'write-after-destroy';
  }
  return ended ? 'write-after-end' : 'write-after-destroy';
}
