import type { ViolationReport } from '../types';
import { sourceLine } from '../build/source';
import { parseSite } from '../core/callsite';

function excerpt(site: string | null): string[] {
  const parsed = parseSite(site);
  if (parsed === null) return [];
  const { file, line, column } = parsed;
  const text = sourceLine(file, line);
  if (text === null) return [];
  const shown = text.replace(/\t/g, ' ');
  const gutter = String(line).padStart(6);
  return [`${gutter} | ${shown.trimEnd()}`, `${' '.repeat(6)} | ${' '.repeat(Math.max(0, column - 1))}^`];
}

const TITLES: Record<ViolationReport['kind'], [string, string]> = {
  'write-after-end': ['ended at', 'late call'],
  'write-after-destroy': ['destroyed at', 'late call'],
  'double-end': ['first end', 'second end'],
  'headers-after-sent': ['headers sent at', 'late header'],
};

/** `write-after-end on ServerResponse.end() (ERR_STREAM_WRITE_AFTER_END)`: what happened, on what. */
export function prettyTitle(report: ViolationReport): string {
  return `${report.kind} on ${report.type}.${report.method}()${report.code === null ? '' : ` (${report.code})`}`;
}

/** Both sites with a source excerpt, the cause and hint (and when the connection closed). */
export function prettySites(report: ViolationReport): string[] {
  const [endTitle, lateTitle] = TITLES[report.kind];
  const lines = [
    `  ${endTitle.padEnd(15)} ${report.endSite ?? `(unknown: ${report.endSiteNote ?? 'not captured'})`}`,
    ...excerpt(report.endSite),
    `  ${lateTitle.padEnd(15)} ${report.lateSite ?? '(no frame outside Node and dependencies)'}`,
    ...excerpt(report.lateSite),
    `  cause: ${report.cause}: ${report.hint}`,
  ];
  if (report.closedAt !== undefined) lines.push(`  connection closed at ${report.closedAt} (${report.closedAgoMs} ms before the late call)`);
  return lines;
}

/** The human-readable block: both sites with a source excerpt, cause, hint, dedupe counter. */
export function formatPretty(report: ViolationReport, seen: number, windowSeconds: number): string {
  const lines = [`endguard: ${prettyTitle(report)} [mode=${report.mode}, capture=${report.capture}]`, ...prettySites(report)];
  if (seen > 1) lines.push(`  seen ${seen} times in the last ${windowSeconds} s (total ${report.count})`);
  return lines.join('\n') + '\n';
}
