import * as dc from 'node:diagnostics_channel';
import type { Config, ViolationMessage } from '../types';
import { LogThrottle, dedupeKey } from '../dedupe';
import { REPORTS_PER_SECOND, runtime, writeStderr } from '../runtime';


let subscriber: ((message: unknown) => void) | null = null;
let throttle: LogThrottle | null = null;

const write = writeStderr;

function onExit(): void {
  if (runtime.config.log !== 'pretty') return;
  if (throttle !== null && throttle.suppressed > 0) {
    write(`endguard: ${throttle.suppressed} repeated or rate-limited reports were counted but not printed\n`);
  }
  if (runtime.overBudget > 0) {
    write(`endguard: ${runtime.overBudget} further violations past the budget of ${REPORTS_PER_SECOND}/s were only counted\n`);
  }
}

/** Subscribes the stderr reporter: one JSON object per line, or the pretty block. */
export function startLog(config: Config): void {
  if (config.log === 'off' || subscriber !== null) return;
  const local = new LogThrottle(config.rateLimit, config.dedupeWindow * 1000);
  throttle = local;
  const handler = (message: unknown) => {
    try {
      const report = message as ViolationMessage;
      const seen = local.admit(dedupeKey(report.endSite, report.lateSite, report.kind));
      if (seen === 0) return;
      if (config.log === 'json') write(JSON.stringify(report) + '\n');
      else write((require('./pretty') as typeof import('./pretty')).formatPretty(report, seen, config.dedupeWindow));
    } catch {
      // the log must never throw into the publisher (the host's late call)
    }
  };
  subscriber = handler;
  dc.subscribe('endguard:violation', handler);
  process.once('exit', onExit);
}

export function stopLog(): void {
  if (subscriber !== null) dc.unsubscribe('endguard:violation', subscriber);
  subscriber = null;
  throttle = null;
  process.removeListener('exit', onExit);
}
