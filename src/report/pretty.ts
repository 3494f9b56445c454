import type { ViolationReport } from '../types';
import { sourceLine } from '../build/source';
import { parseSite } from '../core/callsite';

/** Terminal columns of `text`: East Asian wide and fullwidth characters and emoji take two, combining marks none. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if ((c >= 0x300 && c <= 0x36f) || (c >= 0x200b && c <= 0x200f) || (c >= 0xfe00 && c <= 0xfe0f)) continue;
    const wide =
      (c >= 0x1100 && c <= 0x115f) ||
      (c >= 0x2e80 && c <= 0xa4cf && c !== 0x303f) ||
      (c >= 0xac00 && c <= 0xd7a3) ||
      (c >= 0xf900 && c <= 0xfaff) ||
      (c >= 0xfe30 && c <= 0xfe4f) ||
      (c >= 0xff00 && c <= 0xff60) ||
      (c >= 0xffe0 && c <= 0xffe6) ||
      (c >= 0x1f300 && c <= 0x1faff) ||
      (c >= 0x20000 && c <= 0x3fffd);
    width += wide ? 2 : 1;
  }
  return width;
}

function excerpt(site: string | null): string[] {
  const parsed = parseSite(site);
  if (parsed === null) return [];
  const { file, line, column } = parsed;
  const text = sourceLine(file, line);
  if (text === null) return [];
  const shown = text.replace(/\t/g, ' ');
  const gutter = String(line).padStart(6);
  return [`${gutter} | ${shown.trimEnd()}`, `${' '.repeat(6)} | ${' '.repeat(displayWidth(shown.slice(0, Math.max(0, column - 1))))}^`];
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

/** 1.3 s, 42 s: the span a dedupe counter covers. */
function seconds(ms: number): string {
  return ms < 10_000 ? (Math.round(ms / 100) / 10).toFixed(1) : String(Math.round(ms / 1000));
}

/** The human-readable block: both sites with a source excerpt, cause, hint, dedupe counter (`seen` occurrences within `spanMs`). */
export function formatPretty(report: ViolationReport, seen: number, spanMs: number): string {
  const lines = [`endguard: ${prettyTitle(report)} [mode=${report.mode}, capture=${report.capture}]`, ...prettySites(report)];
  if (seen > 1) lines.push(`  seen ${seen} times in the last ${seconds(spanMs)} s (total ${report.count})`);
  return lines.join('\n') + '\n';
}
