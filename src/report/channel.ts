import * as dc from 'node:diagnostics_channel';
import type { ViolationReport } from '../types';

/** Hidden on each message: the OpenTelemetry context captured when the stream ended. */
export const kEndContext = Symbol('endguard.endContext');

// Created once at module top level (undici's shape); publishing is guarded by hasSubscribers.
export const channels = {
  violation: dc.channel('endguard:violation'),
};

/** Publishes a report with `target` (non-enumerable, so subscribers can still JSON.stringify it). */
export function publishViolation(report: ViolationReport, target: object, endContext: unknown): void {
  if (!channels.violation.hasSubscribers) return;
  const message = { ...report };
  Object.defineProperty(message, 'target', { value: target, enumerable: false });
  Object.defineProperty(message, kEndContext, { value: endContext, enumerable: false });
  channels.violation.publish(message);
}
