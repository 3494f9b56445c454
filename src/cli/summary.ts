import type { ViolationKind, ViolationReport } from '../types';
import { parseSite } from '../core/callsite';
import { REPORTS_PER_SECOND, dedupeKey } from '../core/throttle';
import { prettySites, prettyTitle } from '../report/pretty';
import { allowedBy, allowLine, type AllowEntry, type AllowList } from './allow';
import type { Collected, CollectedReport, WatchedProcess } from './collect';
import { displayPath, processLabel, testFileOf } from './origin';

/** One distinct violation of the run: its (kind, end site, late site), as the agent dedupes them. */
export interface Violation {
  /** The first report of it (its stacks and sites are the ones shown). */
  first: CollectedReport;
  reports: CollectedReport[];
  /** Where it was seen: test files, or processes when no test file is known; in first-seen order. */
  seenIn: string[];
  allowedBy: AllowEntry | null;
}

/** Distinct violations shown in full; the rest are counted in one line (all are in --json). */
const MAX_SHOWN = 50;
/** Places listed per violation. */
const MAX_PLACES = 5;

export function distinctViolations(collected: Collected, allow: AllowList, cwd: string): Violation[] {
  const byKey = new Map<string, Violation>();
  for (const entry of collected.reports) {
    const { report } = entry;
    const key = dedupeKey(report.endSite, report.lateSite, report.kind);
    let violation = byKey.get(key);
    if (violation === undefined) {
      violation = { first: entry, reports: [], seenIn: [], allowedBy: allowedBy(allow, report) ?? null };
      byKey.set(key, violation);
    }
    violation.reports.push(entry);
    const test = testFileOf(entry);
    const thread = entry.process.threadId > 0 ? ` (worker thread ${entry.process.threadId})` : '';
    const place = test !== undefined ? displayPath(test, cwd) + thread : processLabel(entry.process, cwd);
    if (!violation.seenIn.includes(place)) violation.seenIn.push(place);
  }
  return [...byKey.values()];
}

/** The report with its sites relative to the working directory: shorter, and the excerpts still read (relative to the same place). */
function relativeSites(report: ViolationReport, cwd: string): ViolationReport {
  const relative = (site: string | null) => (site === null || parseSite(site) === null ? site : displayPath(site, cwd));
  return { ...report, endSite: relative(report.endSite), lateSite: relative(report.lateSite) };
}

function times(n: number): string {
  return n === 1 ? 'once' : `${n} times`;
}

/** One line per process that only counted violations past its report budget (also JUnit's failing case for them). */
export function countedLines(processes: WatchedProcess[], cwd: string): string[] {
  const lines: string[] = [];
  for (const proc of processes) {
    const kinds = Object.entries(proc.counted) as [ViolationKind, number][];
    const total = kinds.reduce((sum, [, n]) => sum + n, 0);
    if (total === 0) continue;
    lines.push(
      `endguard: ${total} more violations (${kinds.map(([k, n]) => `${n} ${k}`).join(', ')}) past the report budget of ${REPORTS_PER_SECOND}/s were only counted, without sites, in ${processLabel(proc, cwd)}`,
    );
  }
  return lines;
}

export interface SummaryInput {
  collected: Collected;
  violations: Violation[];
  cwd: string;
  allow: AllowList;
  /** The allow list's directory, for the entries printed under --check; null without --allow. */
  allowBase: string | null;
  check: boolean;
  /** ENDGUARD_MODE=off (flag or environment): the processes load endguard and patch nothing. */
  modeOff?: boolean;
}

/** The summary printed when the command exits: one block per distinct violation, with the pretty log's source excerpts. */
export function formatSummary({ collected, violations, cwd, allow, allowBase, check, modeOff }: SummaryInput): string {
  const pids = new Set(collected.processes.map((p) => p.pid)).size;
  const watched = `${pids} Node process${pids === 1 ? '' : 'es'}`;
  if (pids === 0 && modeOff) return 'endguard: --mode off: endguard patched nothing in the command\'s processes, so nothing was checked\n';
  if (pids === 0) {
    return 'endguard: no Node process reported to endguard (the command started none, or dropped NODE_OPTIONS from their environment)\n';
  }
  const out: string[] = [];
  if (violations.length === 0) {
    out.push(`endguard: no late writes in ${watched}`);
  } else {
    const occurrences = violations.reduce((sum, v) => sum + v.reports.length, 0);
    const affected = new Set(collected.reports.map((r) => r.process.pid)).size;
    out.push(
      `endguard: ${violations.length} distinct violation${violations.length === 1 ? '' : 's'} (${occurrences} report${occurrences === 1 ? '' : 's'}) in ${affected} of ${watched}`,
    );
  }
  violations.slice(0, MAX_SHOWN).forEach((v, i) => {
    const report = relativeSites(v.first.report, cwd);
    const allowed = v.allowedBy === null ? '' : ` [allowed by ${v.allowedBy.where}]`;
    out.push('', `${i + 1}) ${prettyTitle(report)}: ${times(v.reports.length)}${allowed}`, ...prettySites(report));
    const places = v.seenIn.slice(0, MAX_PLACES).join(', ') + (v.seenIn.length > MAX_PLACES ? `, and ${v.seenIn.length - MAX_PLACES} more` : '');
    out.push(`  ${'seen in'.padEnd(15)} ${places}`);
    if (check && v.allowedBy === null) out.push(`  ${'to allow it'.padEnd(15)} ${allowLine(v.first.report, allowBase ?? cwd)}`);
  });
  if (violations.length > MAX_SHOWN) out.push('', `endguard: ${violations.length - MAX_SHOWN} more distinct violations not shown (all are in --json)`);
  const counted = countedLines(collected.processes, cwd);
  if (counted.length > 0) out.push('', ...counted);
  const used = new Set(violations.map((v) => v.allowedBy));
  const unused = allow.filter((e) => !used.has(e));
  if (unused.length > 0) out.push('', `endguard: allow list entries that matched nothing (remove them?): ${unused.map((e) => e.where).join(', ')}`);
  return out.join('\n') + '\n';
}

/** Violations the processes only counted past their report budget: no sites, so no allow list entry can cover them. */
export function countedOnly(processes: WatchedProcess[]): number {
  return processes.reduce((sum, proc) => sum + Object.values(proc.counted).reduce((n, k) => n + (k ?? 0), 0), 0);
}

/** The --check verdict, in one line. `counted`: violations only counted (countedOnly). */
export function checkLine(violations: Violation[], commandExit: number, counted = 0): { failed: boolean; line: string } {
  const failing = violations.filter((v) => v.allowedBy === null).length;
  const allowed = violations.length - failing;
  const allowedText = allowed > 0 ? ` (${allowed} allowed)` : '';
  if (failing === 0 && counted === 0) {
    const why = violations.length === 0 ? 'no violations' : `every violation is in the allow list${allowedText}`;
    // the gate passed; the run did not: say whose exit code this is
    const exit = commandExit === 0 ? '' : `; exit ${commandExit} (the command's own)`;
    return { failed: false, line: `endguard --check: passed, ${why}${exit}` };
  }
  const parts: string[] = [];
  if (failing > 0) parts.push(`${failing} violation${failing === 1 ? '' : 's'} not in the allow list${allowedText}`);
  // without their sites these cannot be matched against the allow list: never taken as allowed
  if (counted > 0) parts.push(`${counted} violation${counted === 1 ? '' : 's'} past the report budget, only counted, without sites to check against the allow list`);
  const what = parts.join('; ') + (failing === 0 ? allowedText : '');
  if (commandExit !== 0) return { failed: true, line: `endguard --check: failed, ${what}; exit ${commandExit} (the command's own)` };
  return { failed: true, line: `endguard --check: failed, ${what}; exit 1 although the command passed` };
}
