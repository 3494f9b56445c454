import * as path from 'node:path';
import type { ViolationReport } from '../types';
import { parseSite } from '../core/callsite';

// The allow list (`--allow <file>`): known, accepted violations that do not fail `--check`.
//
//   # one accepted violation per line: <cause> <end site> -> <late site>
//   late-callback      test/app.js:28 -> test/app.js:29
//   client-disconnect  -              -> node_modules/http-proxy/lib/http-proxy/passes/web-outgoing.js
//   *                  *              -> test/legacy/sse.js
//
// A site is `path:line`, `path` (any line of that file), `-` (no end site: client-disconnect,
// armed capture) or `*` (anything). A relative path is relative to the allow file's directory,
// so one file works on every checkout. A `:column` is accepted (a site pasted from a report)
// and ignored: formatting moves columns, not calls.
//
// Lines match exactly, with no tolerance: an entry accepts one reviewed call, and a window of
// ±N lines would silently accept a different late call that lands inside it (a second write
// two lines below the accepted one). When an edit moves the accepted call, --check fails and
// prints the new entry to paste; an entry meant to survive edits names the file alone.

export interface SitePattern {
  /** any: `*`; none: `-`; file: a path, with a line or any line (null). */
  kind: 'any' | 'none' | 'file';
  file?: string;
  line?: number | null;
}

export interface AllowEntry {
  /** `file:line` of the entry in the allow list, for the summary. */
  where: string;
  cause: string;
  end: SitePattern;
  late: SitePattern;
}

export type AllowList = AllowEntry[];

/** Code without a file (`[eval]`, `[worker eval]`) or Node's own (`node:...`): a name, not a path relative to anything. */
function notAPath(file: string): boolean {
  return /^\[.*\]$/.test(file) || file.startsWith('node:');
}

const resolved = (file: string, base: string): string => (notAPath(file) ? file : path.resolve(base, file));

function sitePattern(text: string, base: string): SitePattern | string {
  if (text === '*') return { kind: 'any' };
  if (text === '-') return { kind: 'none' };
  const match = /^(.+?)(?::(\d+))?(?::\d+)?$/.exec(text);
  if (match === null || match[1] === undefined) return `not a site: ${JSON.stringify(text)}`;
  return { kind: 'file', file: resolved(match[1], base), line: match[2] === undefined ? null : Number(match[2]) };
}

/** Parses the allow list's text (`name` and `base`, its directory, for messages and relative paths). Throws with the line on a bad entry. */
export function parseAllowList(text: string, name: string, base: string): AllowList {
  const entries: AllowList = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${name}:${i + 1}`;
    const space = line.search(/\s/);
    const cause = space === -1 ? line : line.slice(0, space);
    const sites = space === -1 ? [] : line.slice(space).split('->').map((s) => s.trim());
    if (!/^([a-z][a-z0-9-]*|\*)$/.test(cause) || sites.length !== 2 || sites[0] === '' || sites[1] === '') {
      throw new Error(`${where}: expected "<cause> <end site> -> <late site>", got ${JSON.stringify(line)}`);
    }
    const end = sitePattern(sites[0]!, base);
    const late = sitePattern(sites[1]!, base);
    for (const pattern of [end, late]) if (typeof pattern === 'string') throw new Error(`${where}: ${pattern}`);
    entries.push({ where, cause, end: end as SitePattern, late: late as SitePattern });
  }
  return entries;
}

function siteMatches(pattern: SitePattern, site: string | null): boolean {
  if (pattern.kind === 'any') return true;
  if (site === null) return pattern.kind === 'none';
  if (pattern.kind === 'none') return false;
  const parsed = parseSite(site);
  if (parsed === null) return false;
  return resolved(parsed.file, process.cwd()) === pattern.file && (pattern.line === null || pattern.line === parsed.line);
}

/** The first entry that accepts the report, if any. */
export function allowedBy(list: AllowList, report: ViolationReport): AllowEntry | undefined {
  return list.find(
    (e) => (e.cause === '*' || e.cause === report.cause) && siteMatches(e.end, report.endSite) && siteMatches(e.late, report.lateSite),
  );
}

function siteText(site: string | null, base: string): string {
  if (site === null) return '-';
  const parsed = parseSite(site);
  if (parsed === null) return site;
  const relative = notAPath(parsed.file) ? '' : path.relative(base, parsed.file);
  return `${relative === '' || path.isAbsolute(relative) ? parsed.file : relative}:${parsed.line}`;
}

/** The allow-list line that accepts this report, with paths relative to `base` (the allow file's directory). */
export function allowLine(report: ViolationReport, base: string): string {
  return `${report.cause} ${siteText(report.endSite, base)} -> ${siteText(report.lateSite, base)}`;
}
