import type { ViolationKind } from '../types';
import { FIRST_DESTROY, FIRST_END, type StreamRecord } from '../internal-types';

/**
 * What a late write means, decided by what happened FIRST: an ended stream is usually
 * destroyed a moment later, so the current flags alone would misreport it. `ended` is Node's
 * own flag (Writable: ending; OutgoingMessage: finished; http2: writableEnded), used when no
 * record was kept.
 */
export function lateKind(ended: boolean, record: StreamRecord | undefined): ViolationKind {
  if (record !== undefined) {
    if (record.first === FIRST_END) return 'write-after-end';
    if (record.first === FIRST_DESTROY) return 'write-after-destroy';
  }
  return ended ? 'write-after-end' : 'write-after-destroy';
}
