import type { Config } from '../types';
import type { ReportFact } from '../internal-types';
import { REPORTS_PER_SECOND } from '../core/throttle';
import { channels } from '../channels';
import { lazy } from '../lazy-load';
import { writeStderr } from '../stderr';

// The stderr reporter: one JSON object per line, or the pretty block, for each violation the
// throttle let print.

let subscriber: ((message: unknown) => void) | null = null;
let onExit: (() => void) | null = null;

export function startLog(config: Config): void {
  if (config.log === 'off' || subscriber !== null) return;
  let notPrinted = 0;
  let overBudget = 0;
  const handler = (message: unknown) => {
    try {
      const { report, print, printSpanMs } = message as ReportFact;
      if (report === null) overBudget++;
      else if (print === 0) notPrinted++;
      else if (config.log === 'json') writeStderr(JSON.stringify(report) + '\n');
      else writeStderr(lazy().formatPretty(report, print, printSpanMs ?? 0));
    } catch {
      // the log must never throw into the publisher (the host's late call)
    }
  };
  const exit = () => {
    if (config.log !== 'pretty') return;
    if (notPrinted > 0) writeStderr(`endguard: ${notPrinted} repeated or rate-limited reports were counted but not printed\n`);
    if (overBudget > 0) writeStderr(`endguard: ${overBudget} further violations past the budget of ${REPORTS_PER_SECOND}/s were only counted\n`);
  };
  subscriber = handler;
  onExit = exit;
  channels.report.subscribe(handler);
  process.once('exit', exit);
}

export function stopLog(): void {
  if (subscriber !== null) channels.report.unsubscribe(subscriber);
  if (onExit !== null) process.removeListener('exit', onExit);
  subscriber = null;
  onExit = null;
}
