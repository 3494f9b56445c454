import type { Config } from '../types';

// Placeholder: the OpenTelemetry reporter (span event / child span) lands with issue 4.
export function startOtel(_config: Config): void {}
export function stopOtel(): void {}
