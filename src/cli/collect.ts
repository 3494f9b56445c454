import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import type { ViolationKind, ViolationReport } from '../types';

// Reads what every process appended to the report directory (report/process-file.ts writes it).

export interface WatchedProcess {
  pid: number;
  ppid: number;
  threadId: number;
  /** process.argv[1]: the script (for `node --test`'s children, the test file); null for `node -e`. */
  script: string | null;
  node: string;
  /** For a worker thread: its process's main thread, when that reported too. */
  mainThread: WatchedProcess | null;
  /** Violations this process only counted past its report budget, by kind. */
  counted: Partial<Record<ViolationKind, number>>;
}

export interface CollectedReport {
  /** ms since epoch when the process wrote it. */
  t: number;
  report: ViolationReport;
  /** The test file the runner was executing, when it said (vitest). */
  test?: string;
  process: WatchedProcess;
}

export interface Collected {
  processes: WatchedProcess[];
  /** In the order they happened. */
  reports: CollectedReport[];
}

function isReport(value: unknown): value is ViolationReport {
  const r = value as ViolationReport | null;
  return typeof r === 'object' && r !== null && r.endguard === 1 && typeof r.kind === 'string' && typeof r.lateStack === 'string';
}

/**
 * Every process's lines. A line cut short by a SIGKILL mid-write is skipped; a file whose
 * first line is not a process header (not ours) is ignored.
 */
export function collectReports(dir: string): Collected {
  const processes: WatchedProcess[] = [];
  const reports: CollectedReport[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort();
  } catch {
    return { processes, reports };
  }
  for (const name of names) {
    let text: string;
    try {
      text = readFileSync(path.join(dir, name), 'utf8');
    } catch {
      continue;
    }
    let current: WatchedProcess | null = null;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      let value: Record<string, unknown>;
      try {
        value = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (value.endguard === 'process') {
        current = {
          pid: Number(value.pid),
          ppid: Number(value.ppid),
          threadId: Number(value.threadId),
          script: typeof value.script === 'string' ? value.script : null,
          node: String(value.node),
          mainThread: null,
          counted: {},
        };
        processes.push(current);
      } else if (current === null) {
        continue;
      } else if (isReport(value.report)) {
        const entry: CollectedReport = { t: Number(value.t), report: value.report, process: current };
        if (typeof value.test === 'string') entry.test = value.test;
        reports.push(entry);
      } else if (typeof value.counted === 'object' && value.counted !== null) {
        for (const [kind, n] of Object.entries(value.counted as Record<string, unknown>)) {
          const k = kind as ViolationKind;
          if (typeof n === 'number') current.counted[k] = (current.counted[k] ?? 0) + n;
        }
      }
    }
  }
  const mains = new Map(processes.filter((p) => p.threadId === 0).map((p) => [p.pid, p]));
  for (const p of processes) if (p.threadId !== 0) p.mainThread = mains.get(p.pid) ?? null;
  reports.sort((a, b) => a.t - b.t);
  return { processes, reports };
}
