import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/** Signals a user or CI sends to stop a run: passed on to the command, which decides when it ends. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/**
 * The ones a terminal sends to its whole foreground process group (Ctrl-C, a hang-up), the
 * command included: passed on again, they would reach it twice, and a runner whose second
 * Ctrl-C forces an exit would take that path.
 */
const FROM_TERMINAL: ReadonlySet<NodeJS.Signals> = new Set(['SIGINT', 'SIGHUP']);

export interface CommandResult {
  /** The exit code as a shell reports it: the command's own, 128+n when signal n killed it. */
  exitCode: number;
  signal: NodeJS.Signals | null;
  /** Set when the command could not be started (not found, not executable). */
  spawnError: NodeJS.ErrnoException | null;
}

/**
 * Runs the command with the terminal's stdio as it is (stdin, stdout, stderr inherited, no
 * shell), forwards SIGINT/SIGTERM/SIGHUP to it while it runs (SIGINT and SIGHUP not from a
 * terminal, which sends them to the command itself) and waits for it to exit.
 */
export function runCommand(command: readonly string[], env: NodeJS.ProcessEnv): Promise<CommandResult> {
  const [file, ...args] = command as [string, ...string[]];
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: 'inherit', env });
    const interactive = process.stdin.isTTY === true;
    const forward = (signal: NodeJS.Signals) => {
      if (interactive && FROM_TERMINAL.has(signal)) return;
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    };
    const done = (result: CommandResult) => {
      for (const signal of FORWARDED) process.removeListener(signal, forward);
      resolve(result);
    };
    for (const signal of FORWARDED) process.on(signal, forward);
    child.on('error', (error: NodeJS.ErrnoException) => {
      // a spawn failure: no process ran (an error after the spawn, e.g. from kill(), is not one)
      if (child.pid === undefined) done({ exitCode: error.code === 'ENOENT' ? 127 : 126, signal: null, spawnError: error });
    });
    child.on('exit', (code, signal) => {
      const exitCode = code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0));
      done({ exitCode, signal, spawnError: null });
    });
  });
}
