import { REPORT_DIR_VARIABLE } from '../config';

/**
 * One NODE_OPTIONS argument, quoted for Node's own NODE_OPTIONS parser: inside double quotes a
 * backslash escapes the next character (Node 12+), so paths with spaces, quotes or
 * backslashes survive.
 */
export function quoteNodeOption(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => '\\' + c)}"`;
}

/** The user's NODE_OPTIONS, kept as they are, with endguard's preload appended. */
export function nodeOptionsWith(existing: string | undefined, registerFile: string): string {
  const preload = `--require ${quoteNodeOption(registerFile)}`;
  return existing === undefined || existing.trim() === '' ? preload : `${existing} ${preload}`;
}

export interface ChildEnvironment {
  registerFile: string;
  reportDir: string;
  settings: Record<string, string>;
  quiet: boolean;
}

/**
 * The command's environment: the CLI's own, plus the preload (every Node process the command
 * starts inherits NODE_OPTIONS, and worker threads take it from their process), the settings
 * given as flags, and where each process appends its reports.
 */
export function childEnvironment(parent: NodeJS.ProcessEnv, child: ChildEnvironment): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...parent, ...child.settings };
  if (child.quiet) env.ENDGUARD_LOG = 'off';
  env[REPORT_DIR_VARIABLE] = child.reportDir;
  env.NODE_OPTIONS = nodeOptionsWith(parent.NODE_OPTIONS, child.registerFile);
  return env;
}
