import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import * as z from 'zod';
import { type Clock, scaledClock, systemClock } from '../../lambdas/shared/clock';
import { loadSeedFile, SeedError, type SimulatorSeed } from '../../simulator/seed';
import {
  InvalidSettingsError,
  optionName,
  parseSettings,
  type SettingGroup,
  type SettingName,
  type Settings,
  SETTING_NAMES,
  settingHelp,
  settingSchema,
  settingsIn,
} from '../../lambdas/shared/config/settings';

/** A mistake in how the command was called: reported in one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The one rule every command's exit code follows (shown after each `--help`; the README says the same). */
export const EXIT_CODES_HELP = `
Exit codes:
  0    done (a sweep that ran, whatever each task's outcome; serve or simulate stopped with Ctrl-C)
  1    the work failed (epilot refused the token or was unreachable, the sweep failed, a delivery
       was not accepted)
  2    bad usage or configuration (an unknown or bad option, a missing token or secret, an unusable
       --state-dir, --seed file or --port)
  130  interrupted with Ctrl-C before the work was done`;

export const flagOf = (name: SettingName): string => `--${optionName(name)}`;

/**
 * Every setting of `groups` as an option named like the setting (`pollIntervalMs` → `--poll-interval-ms`), so a
 * deployment setting and a command line option are the same thing. Values stay text here and are checked by the
 * settings schema, once, in `settingsFromOptions`. `defaults` are this command's own defaults, shown in `--help`.
 */
export function addSettingOptions(command: Command, groups: readonly SettingGroup[], defaults: Partial<Settings> = {}): Command {
  const fallback = parseSettings({});
  // Here rather than in each command: every command that takes settings reads the same file the same way.
  command.option(
    '--config <file>',
    'JSON file of deployment settings, keyed like the CDK context (e.g. {"pollIntervalMs": 2000}); options override it',
  );
  for (const name of settingsIn(groups)) {
    // No commander default: a setting the user did not type stays unset, so only typed values are checked as theirs.
    command.addOption(
      new Option(`${flagOf(name)} <value>`, withRange(settingHelp(name), settingSchema(name), defaults[name] ?? fallback[name])),
    );
  }
  return command;
}

/**
 * `help` followed by the values `schema` accepts and the default, e.g. `… (100–60000, default: 1000)`. The range is
 * read from the schema that checks the value, so help and check cannot disagree.
 */
export function withRange(help: string, schema: z.ZodType, shownDefault?: string | number): string {
  const parts = [rangeOf(schema), shownDefault === undefined ? undefined : `default: ${String(shownDefault)}`].filter(Boolean);
  return parts.length === 0 ? help : `${help} (${parts.join(', ')})`;
}

/** The numbers `schema` accepts, as help text (`100–60000`), or undefined when it sets no bound. */
export function rangeOf(schema: z.ZodType): string | undefined {
  const { minimum, maximum } = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' });
  // z.int() bounds itself by the safe integers: no bound a user would set.
  const min = minimum !== undefined && minimum > Number.MIN_SAFE_INTEGER ? minimum : undefined;
  const max = maximum !== undefined && maximum < Number.MAX_SAFE_INTEGER ? maximum : undefined;
  if (min !== undefined && max !== undefined) return `${min}–${max}`;
  if (min !== undefined) return `at least ${min}`;
  return max === undefined ? undefined : `at most ${max}`;
}

/** What a number option checked by `schema` must be, for its error: `a whole number, at least 0`. */
export function acceptedNumbers(schema: z.ZodType): string {
  const range = rangeOf(schema);
  const kind = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }).type === 'integer' ? 'a whole number' : 'a number';
  return range ? `${kind}, ${range}` : kind;
}

/**
 * The settings the user passed (or this command's defaults), checked; a bad value names its option. With
 * `--config FILE`, the file's settings apply first and the options typed override them, key by key.
 */
export function settingsFromOptions(options: object, defaults: Partial<Settings> = {}): Settings {
  const typed = options as Partial<Record<SettingName | 'config', unknown>>;
  const given = Object.fromEntries(SETTING_NAMES.flatMap((name) => (typed[name] === undefined ? [] : [[name, typed[name]]])));
  const file = typeof typed.config === 'string' ? typed.config : undefined;
  const fromFile = file === undefined ? {} : readSettingsFile(file);
  // A conflict involving a value from the file names the file and its key, so the user knows which of the two to fix.
  const nameOf = (name: SettingName) =>
    name in fromFile && !(name in given) ? `${flagOf(name)} (${name} in --config ${file ?? ''})` : flagOf(name);
  try {
    return parseSettings({ ...defaults, ...fromFile, ...given }, 'option', nameOf);
  } catch (error) {
    if (error instanceof InvalidSettingsError) throw new UsageError(error.message.replace(/^Invalid configuration: /, ''));
    throw error;
  }
}

const configFileSchema = z.record(z.string(), z.unknown());

/**
 * The settings of a `--config` file: a JSON object keyed by setting name, exactly as `cdk deploy -c` and the
 * stack's context take them (numbers as numbers or text). Every value is checked on its own here, so a mistake
 * is reported against the file and its key; how values combine is checked once the options are merged in.
 */
function readSettingsFile(file: string): Partial<Record<SettingName, unknown>> {
  const refuse = (problem: string): never => {
    throw new UsageError(`--config ${file}: ${problem}`);
  };
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    refuse(`cannot be read (${code}): pass the path of a JSON file of deployment settings`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    refuse(`is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const parsed = configFileSchema.safeParse(json);
  if (!parsed.success || Array.isArray(json)) return refuse('must be a JSON object of deployment settings, e.g. {"pollIntervalMs": 2000}');
  const known = new Set<string>(SETTING_NAMES);
  const problems: string[] = [];
  const settings: Partial<Record<SettingName, unknown>> = {};
  for (const [key, value] of Object.entries(parsed.data)) {
    if (!known.has(key)) {
      problems.push(`unknown key "${key}"${suggestedKey(key) ?? ' (not a deployment setting; see --help for the settings)'}`);
      continue;
    }
    const name = key as SettingName;
    // As parseSettings reads every source: empty text is no value, so the command's default applies.
    if (value === '') continue;
    const checked = settingSchema(name).safeParse(value);
    if (checked.success) settings[name] = value;
    else problems.push(`key ${name}: ${checked.error.issues.map((issue) => issue.message).join(', ')}`);
  }
  if (problems.length > 0) refuse(problems.join('; '));
  return settings;
}

/** A key spelt as its option or environment variable (`poll-interval-ms`, `POLL_INTERVAL_MS`): the setting meant. */
function suggestedKey(key: string): string | undefined {
  const bare = key.replace(/^-+/, '').replace(/[-_]/g, '').toLowerCase();
  const match = SETTING_NAMES.find((name) => name.toLowerCase() === bare);
  return match === undefined ? undefined : ` (did you mean "${match}"?)`;
}

/** Options that are not deployment settings: how this machine runs the state machines. */
export interface LocalRunOptions {
  stateDir: string;
  concurrency: number;
  logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  timeScale: number;
  timeOrigin?: number;
}

function positiveInt(flag: string) {
  return (value: string) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError(`${flag} must be a positive whole number`);
    return parsed;
  };
}

function positiveNumber(flag: string) {
  return (value: string) => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError(`${flag} must be a positive number`);
    return parsed;
  };
}

/** A TCP port; 0 lets the system pick a free one. */
export function portNumber(flag: string) {
  return (value: string) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) throw new InvalidArgumentError(`${flag} must be a port number, 0–65535`);
    return parsed;
  };
}

/**
 * A listen that failed because of `flag`'s port (another process has it, or this user may not open it) as a usage
 * error naming it; any other error as it was.
 */
export function portRefusal(error: unknown, flag: string, port: number): unknown {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  return code === 'EADDRINUSE' || code === 'EACCES'
    ? new UsageError(`${flag} ${port} cannot be used (${code}): pass another port, or ${flag} 0 for any free one`)
    : error;
}

/** `stateDir` unset: the command has no default folder and says in `stateDirHelp` what it does without one. */
export function addLocalRunOptions(
  command: Command,
  defaults: { logLevel: LocalRunOptions['logLevel']; stateDir?: string; stateDirHelp?: string },
): Command {
  command
    .option('--state-dir <dir>', defaults.stateDirHelp ?? 'where the embedded DynamoDB keeps task records', defaults.stateDir)
    .option('--concurrency <n>', 'task executions running at once', positiveInt('--concurrency'), 10)
    .addOption(
      new Option('--log-level <level>', 'structured logs on stderr')
        .choices(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'])
        .default(defaults.logLevel),
    );
  return addClockOptions(command);
}

/** The hidden options of a scaled clock (`LocalRunOptions.timeScale` and `timeOrigin`). */
export function addClockOptions(command: Command): Command {
  return command
    .addOption(
      // For tests and benchmarks: Wait states, retry delays and timeouts run this many times faster.
      new Option('--time-scale <factor>', 'run simulated time this many times faster')
        .argParser(positiveNumber('--time-scale'))
        .default(1)
        .hideHelp(),
    )
    .addOption(
      // With --time-scale: processes that share the origin share the simulated "now" (a simulator, restarted runners).
      new Option('--time-origin <epochMs>', 'real time at which the scaled clock starts')
        .argParser(positiveInt('--time-origin'))
        .hideHelp(),
    );
}

/** The clock of a local run: real time, or `--time-scale` times faster from `--time-origin`. */
export function localClock(options: Pick<LocalRunOptions, 'timeScale' | 'timeOrigin'>): Clock {
  return options.timeScale === 1 ? systemClock : scaledClock(options.timeScale, options.timeOrigin);
}

export const JSON_OPTION = ['--json', 'print a machine-readable summary on stdout (logs go to stderr)'] as const;

/** The organisation `demo` and `simulate` simulate unless `--seed` names another. */
export const DEMO_SEED_FILE = path.join(__dirname, '..', '..', 'simulator', 'demo-organisation.json');

/** A simulator seed file named by `flag`, checked: a bad file is a usage error naming the file and the field. */
export function seedFromOption(file: string, flag = '--seed'): SimulatorSeed {
  try {
    return loadSeedFile(file);
  } catch (error) {
    if (error instanceof SeedError) throw new UsageError(`${flag}: ${error.message}`);
    throw error;
  }
}
