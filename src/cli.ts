// `npx endguard [options] -- <command>`: runs the command with endguard preloaded in every Node
// process it starts, then prints one summary of what they reported. This process never loads
// the agent itself: it only sets the children's environment and reads their report files.
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { packageVersion } from './version';
import { parseArgs, helpText, type CliOptions } from './cli/args';
import { parseAllowList, type AllowList } from './cli/allow';
import { runCommand } from './cli/child';
import { collectReports, type Collected } from './cli/collect';
import { childEnvironment } from './cli/environment';
import { formatJunit } from './cli/junit';
import { displayPath, testFileOf } from './cli/origin';
import { checkLine, countedLines, countedOnly, distinctViolations, formatSummary, type Violation } from './cli/summary';
import { writeFileAtomic } from './cli/write-atomic';

/** The preload every child gets (`--require`: one CJS file serves CommonJS and ESM apps alike). */
const REGISTER_FILE = path.join(__dirname, '..', 'register.cjs');
const USAGE_ERROR = 2;

function say(text: string): void {
  process.stderr.write(text);
}

function readAllowList(file: string, cwd: string): AllowList {
  const text = readFileSync(file, 'utf8');
  return parseAllowList(text, displayPath(file, cwd), path.dirname(file));
}

/** Every report as a JSON line: the report, where it came from, and the allow entry that accepts it. */
function jsonLines(collected: Collected, violations: Violation[]): string {
  const allowedOf = new Map<object, string>();
  for (const v of violations) if (v.allowedBy !== null) for (const r of v.reports) allowedOf.set(r, v.allowedBy.where);
  return collected.reports
    .map((entry) => {
      const { pid, threadId, script } = entry.process;
      const line = { ...entry.report, process: { pid, threadId, script }, test: testFileOf(entry) ?? null, allowedBy: allowedOf.get(entry) ?? null };
      return JSON.stringify(line) + '\n';
    })
    .join('');
}

async function run(options: CliOptions, cwd: string): Promise<number> {
  const resolve = (file: string | null) => (file === null ? null : path.resolve(cwd, file));
  const allowFile = resolve(options.allow);
  const jsonFile = resolve(options.json);
  const junitFile = resolve(options.junit);

  let allow: AllowList = [];
  if (allowFile !== null) {
    try {
      allow = readAllowList(allowFile, cwd);
    } catch (error) {
      say(`endguard: --allow ${(error as Error).message}\n`);
      return USAGE_ERROR;
    }
  }

  // absolute (and real: a symlinked TMPDIR is the same place from every working directory)
  const reportDir = mkdtempSync(path.join(realpathSync(path.resolve(tmpdir())), 'endguard-'));
  const started = Date.now();
  try {
    const env = childEnvironment(process.env, { registerFile: REGISTER_FILE, reportDir, settings: options.settings, quiet: options.quiet });
    const result = await runCommand(options.command, env);
    if (result.spawnError !== null) {
      say(`endguard: cannot run ${JSON.stringify(options.command[0])}: ${result.spawnError.code === 'ENOENT' ? 'command not found' : result.spawnError.message}\n`);
      return result.exitCode;
    }
    const collected = collectReports(reportDir);
    const violations = distinctViolations(collected, allow, cwd);
    const allowBase = allowFile === null ? null : path.dirname(allowFile);
    const modeOff = (options.settings.ENDGUARD_MODE ?? process.env.ENDGUARD_MODE) === 'off';
    say('\n' + formatSummary({ collected, violations, cwd, allow, allowBase, check: options.check, modeOff }));

    let exitCode = result.exitCode;
    const outputs: [string | null, () => string][] = [
      [jsonFile, () => jsonLines(collected, violations)],
      [junitFile, () => formatJunit({ violations, counted: countedLines(collected.processes, cwd), cwd, seconds: (Date.now() - started) / 1000, timestamp: new Date(started) })],
    ];
    for (const [file, content] of outputs) {
      if (file === null) continue;
      try {
        writeFileAtomic(file, content());
      } catch (error) {
        say(`endguard: cannot write ${file} (${(error as Error).message})\n`);
        if (exitCode === 0) exitCode = USAGE_ERROR;
      }
    }
    if (options.check) {
      const verdict = checkLine(violations, result.exitCode, countedOnly(collected.processes));
      say(verdict.line + '\n');
      if (verdict.failed && exitCode === 0) exitCode = 1;
    }
    return exitCode;
  } finally {
    rmSync(reportDir, { recursive: true, force: true });
  }
}

/** The `endguard` command (bin: cli.cjs). Sets the process's exit code. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const parsed = parseArgs(argv);
  if ('help' in parsed) {
    process.stdout.write(helpText());
    return;
  }
  if ('version' in parsed) {
    process.stdout.write(packageVersion() + '\n');
    return;
  }
  if ('error' in parsed) {
    say(`endguard: ${parsed.error} (see endguard --help)\n`);
    process.exitCode = USAGE_ERROR;
    return;
  }
  try {
    process.exitCode = await run(parsed.options, process.cwd());
  } catch (error) {
    say(`endguard: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = USAGE_ERROR;
  }
}
