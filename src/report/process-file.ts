import { closeSync, openSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import type { ViolationKind } from '../types';
import type { ReportFact } from '../internal-types';
import { channels } from '../channels';
import { warnOnce } from '../stderr';

// Under the endguard CLI: this process (or worker thread) appends every report, as it happens,
// to a file of its own in the directory the CLI passed in ENDGUARD_REPORT_DIR, so a crash, a
// SIGKILL or process.exit() loses nothing the CLI's summary needs. One synchronous write of one
// whole line per published report (the throttle bounds them: 100 full reports/s); violations
// only counted past that budget are coalesced into one line per COUNT_LINE_MS.
//
// Lines (the format is internal to the CLI, src/cli/collect.ts reads it):
//   {"endguard":"process","pid":…,"ppid":…,"threadId":…,"script":…,"node":…,"started":…}  first
//   {"t":…,"report":{…the report…},"test":"/abs/a.test.js"}                               per report
//   {"t":…,"counted":{"write-after-end":3}}                                                past the budget

/** A SIGKILL loses at most this much of the count-only tail (never a full report). */
const COUNT_LINE_MS = 100;

let fd: number | null = null;
let pending: Partial<Record<ViolationKind, number>> = {};
let pendingAny = false;
let lastCountLine = 0;

function threadId(): number {
  // loaded only under the CLI: the app may never load worker_threads itself
  return (require('node:worker_threads') as typeof import('node:worker_threads')).threadId;
}

/** The test file the runner is executing in this process, when the runner says (vitest's forks and threads pools). */
function currentTestFile(): string | undefined {
  try {
    const state = (globalThis as { __vitest_worker__?: { filepath?: unknown } }).__vitest_worker__;
    return typeof state?.filepath === 'string' ? state.filepath : undefined;
  } catch {
    return undefined;
  }
}

function append(line: object): void {
  if (fd === null) return;
  try {
    writeSync(fd, JSON.stringify(line) + '\n');
  } catch (error) {
    close();
    warnOnce('report-dir', `endguard: cannot write reports for the endguard CLI (${(error as Error).message}); they are missing from its summary`);
  }
}

function close(): void {
  if (fd === null) return;
  const open = fd;
  fd = null;
  channels.report.unsubscribe(onReport);
  process.removeListener('exit', onExit);
  try {
    closeSync(open);
  } catch {
    // already gone
  }
}

function flushCounts(now: number): void {
  if (!pendingAny) return;
  append({ t: now, counted: pending });
  pending = {};
  pendingAny = false;
  lastCountLine = now;
}

function onReport(message: unknown): void {
  try {
    const { report, kind } = message as ReportFact;
    const now = Date.now();
    if (report === null) {
      pending[kind] = (pending[kind] ?? 0) + 1;
      pendingAny = true;
      if (now - lastCountLine >= COUNT_LINE_MS) flushCounts(now);
      return;
    }
    flushCounts(now);
    append({ t: now, report, test: currentTestFile() });
  } catch {
    // never throw into the publisher (the host's late call)
  }
}

function onExit(): void {
  flushCounts(Date.now());
  close();
}

/** Starts appending this process's reports to a new file in `dir` (an absolute path, made by the CLI). */
export function startProcessFile(dir: string): void {
  if (fd !== null) return;
  const thread = threadId();
  const file = path.join(dir, `${process.pid}-${thread}-${Math.random().toString(36).slice(2, 8)}.jsonl`);
  try {
    fd = openSync(file, 'a');
  } catch (error) {
    // the CLI is gone and removed its directory (a process that outlived the command): nothing to tell
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      warnOnce('report-dir', `endguard: cannot write reports for the endguard CLI (${(error as Error).message}); they are missing from its summary`);
    }
    return;
  }
  append({
    endguard: 'process',
    pid: process.pid,
    ppid: process.ppid,
    threadId: thread,
    script: process.argv[1] ?? null,
    node: process.version,
    started: Date.now(),
  });
  if (fd === null) return;
  channels.report.subscribe(onReport);
  process.on('exit', onExit);
}

export function stopProcessFile(): void {
  onExit();
}
