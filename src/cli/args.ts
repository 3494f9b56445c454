import { SETTINGS, show, type Setting } from '../config';

/** What the command line asked for. Paths are as given (the caller resolves them). */
export interface CliOptions {
  command: string[];
  check: boolean;
  quiet: boolean;
  allow: string | null;
  json: string | null;
  junit: string | null;
  /** ENDGUARD_* variables set by flags (`--mode strict` → ENDGUARD_MODE=strict), validated. */
  settings: Record<string, string>;
}

export type ParsedArgs = { help: true } | { version: true } | { error: string } | { options: CliOptions };

/** `ENDGUARD_STACK_DEPTH` → `--stack-depth`. */
export function flagOf(setting: Setting): string {
  return '--' + setting.variable.slice('ENDGUARD_'.length).toLowerCase().replace(/_/g, '-');
}

const FILE_FLAGS = { '--allow': 'allow', '--json': 'json', '--junit': 'junit' } as const;

/**
 * `endguard [options] [--] <command> [args...]`. Options end at `--` or at the first argument
 * that is not one (`endguard node app.js`): everything after belongs to the command.
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const options: CliOptions = { command: [], check: false, quiet: false, allow: null, json: null, junit: null, settings: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      options.command = argv.slice(i + 1);
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      options.command = argv.slice(i);
      break;
    }
    if (arg === '-h' || arg === '--help') return { help: true };
    if (arg === '-v' || arg === '--version') return { version: true };
    if (arg === '--check') {
      options.check = true;
      continue;
    }
    if (arg === '--quiet' || arg === '-q') {
      options.quiet = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const setting = SETTINGS.find((s) => flagOf(s) === flag);
    const file = FILE_FLAGS[flag as keyof typeof FILE_FLAGS];
    if (setting === undefined && file === undefined) return { error: `unknown option ${show(flag)}` };
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length) value = argv[++i];
    if (value === undefined) return { error: `${flag} needs a value` };
    // `--junit --check`: the next option is not a value (it would become a file named --check,
    // and the gate would be off); --flag=-x still passes a value that starts with a dash
    if (eq === -1 && value.startsWith('-')) return { error: `${flag} needs a value, not the option ${show(value)} (${flag}=<value> for one that starts with -)` };
    if (file !== undefined) {
      if (value === '') return { error: `${flag} needs a file name` };
      options[file] = value;
      continue;
    }
    const parsed = setting!.parse(value);
    // the same words as the ENDGUARD_* warning (config.ts), but a typo in a flag stops the run
    if (parsed === undefined) return { error: `invalid ${flag} ${show(value)}: allowed values are ${setting!.allowed}` };
    options.settings[setting!.variable] = String(parsed);
  }
  if (options.command.length === 0) return { error: 'no command given' };
  if (options.quiet && options.settings.ENDGUARD_LOG !== undefined && options.settings.ENDGUARD_LOG !== 'off') {
    return { error: `--quiet turns the children's log off; it contradicts --log ${options.settings.ENDGUARD_LOG}` };
  }
  return { options };
}

export function helpText(): string {
  const settings = SETTINGS.map((s) => `  ${(flagOf(s) + ' <value>').padEnd(24)} ${s.variable}: ${s.allowed}`);
  return `Usage: endguard [options] [--] <command> [args...]

Runs <command> with endguard preloaded in every Node process it starts (NODE_OPTIONS), then
prints one summary of every late write they reported. The command's exit code passes
through (128+n when a signal killed it).

  npx endguard -- npm test
  npx endguard --check --junit reports/endguard.xml -- npx vitest run
  npx endguard node app.js

Options:
  --check                  exit 1 when a violation not in the allow list was seen, even if
                           the command passed
  --allow <file>           accepted violations, one per line: <cause> <end site> -> <late site>
                           (sites path:line, relative to the file; path alone = any line;
                           - = no end site; * = anything; # comments)
  --json <file>            every report as JSON lines (written when the command exits)
  --junit <file>           JUnit XML: one failing test case per distinct violation
  -q, --quiet              keep the children's own report lines out of the output (summary only)
${settings.join('\n')}
  -h, --help               this text
  -v, --version            endguard's version

Exit codes: the command's own; 1 for --check with violations after a passing command;
2 for a usage error; 127 when the command cannot be found.
`;
}
