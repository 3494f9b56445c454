import { parseSite } from '../core/callsite';
import { prettySites, prettyTitle } from '../report/pretty';
import { displayPath } from './origin';
import type { Violation } from './summary';

// JUnit XML, as CI systems read it (GitHub/GitLab/Jenkins/CircleCI): <testsuites> → one
// <testsuite> → one <testcase> per distinct violation, <failure> when it fails the gate,
// <skipped> when the allow list accepts it, and one passing case when there is none (some
// renderers treat a file without test cases as an error).

/** XML 1.0 forbids most control characters even escaped: they are dropped. */
const NOT_XML = /[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu;

function text(value: string): string {
  return value.replace(NOT_XML, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function attr(value: string | number): string {
  return text(String(value)).replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

export interface JunitInput {
  violations: Violation[];
  /** One line per process whose violations past its report budget were only counted (summary.ts countedLines): each a failing case. */
  counted: string[];
  cwd: string;
  /** The run's wall time, seconds. */
  seconds: number;
  timestamp: Date;
}

function testcase(v: Violation, cwd: string): string {
  const { report } = v.first;
  const site = (s: string | null) => (s === null ? '(no end site)' : displayPath(s, cwd));
  const name = `${report.cause}: ${site(report.endSite)} -> ${site(report.lateSite)}`;
  const late = parseSite(report.lateSite);
  const location = late === null ? '' : ` file="${attr(displayPath(late.file, cwd))}" line="${late.line}"`;
  const open = `    <testcase classname="endguard.${attr(report.kind)}" name="${attr(name)}"${location} time="0">`;
  if (v.allowedBy !== null) return `${open}\n      <skipped message="${attr(`allowed by ${v.allowedBy.where}`)}"/>\n    </testcase>`;
  const body = [
    `${prettyTitle(report)}: ${v.reports.length === 1 ? 'once' : `${v.reports.length} times`}`,
    ...prettySites(report),
    `  seen in ${v.seenIn.join(', ')}`,
    '',
    report.lateStack,
    ...(report.endStack === null ? [] : ['', report.endStack]),
  ].join('\n');
  const message = `${prettyTitle(report)}: ${report.cause}: ${report.hint}`;
  return `${open}\n      <failure message="${attr(message)}" type="${attr(report.code ?? report.kind)}">${text(body)}</failure>\n    </testcase>`;
}

/** Violations only counted, without sites: no allow list entry covers them, so they fail as the gate does. */
function countedCase(line: string): string {
  const message = line.replace(/^endguard: /, '');
  return `    <testcase classname="endguard.counted" name="${attr(message)}" time="0">\n      <failure message="${attr(message)}" type="counted">${text(message)}</failure>\n    </testcase>`;
}

export function formatJunit({ violations, counted, cwd, seconds, timestamp }: JunitInput): string {
  const failures = violations.filter((v) => v.allowedBy === null).length + counted.length;
  const skipped = violations.filter((v) => v.allowedBy !== null).length;
  const cases = [...violations.map((v) => testcase(v, cwd)), ...counted.map(countedCase)];
  if (cases.length === 0) cases.push('    <testcase classname="endguard" name="no late writes" time="0"/>');
  const counts = `tests="${cases.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${seconds.toFixed(3)}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="endguard" ${counts}>`,
    `  <testsuite name="endguard: late writes" ${counts} timestamp="${timestamp.toISOString().slice(0, 19)}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
