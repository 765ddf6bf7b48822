import { type Command, InvalidArgumentError, Option } from 'commander';
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
  settingsIn,
} from '../../lambdas/shared/config/settings';

/** A mistake in how the command was called: reported in one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const flagOf = (name: SettingName): string => `--${optionName(name)}`;

/**
 * Every setting of `groups` as an option named like the setting (`pollIntervalMs` → `--poll-interval-ms`), so a
 * deployment setting and a command line option are the same thing. Values stay text here and are checked by the
 * settings schema, once, in `settingsFromOptions`. `defaults` are this command's own defaults, shown in `--help`.
 */
export function addSettingOptions(command: Command, groups: readonly SettingGroup[], defaults: Partial<Settings> = {}): Command {
  const fallback = parseSettings({});
  for (const name of settingsIn(groups)) {
    const shown = defaults[name] ?? fallback[name];
    // No commander default: a setting the user did not type stays unset, so only typed values are checked as theirs.
    const help = shown === undefined ? settingHelp(name) : `${settingHelp(name)} (default: ${String(shown)})`;
    command.addOption(new Option(`${flagOf(name)} <value>`, help));
  }
  return command;
}

/** The settings the user passed (or this command's defaults), checked; a bad value names its option. */
export function settingsFromOptions(options: object, defaults: Partial<Settings> = {}): Settings {
  const typed = options as Partial<Record<SettingName, unknown>>;
  const given = Object.fromEntries(SETTING_NAMES.flatMap((name) => (typed[name] === undefined ? [] : [[name, typed[name]]])));
  try {
    return parseSettings({ ...defaults, ...given }, 'option', flagOf);
  } catch (error) {
    if (error instanceof InvalidSettingsError) throw new UsageError(error.message.replace(/^Invalid configuration: /, ''));
    throw error;
  }
}

/** Options that are not deployment settings: how this machine runs the state machines. */
export interface LocalRunOptions {
  stateDir: string;
  concurrency: number;
  logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  timeScale: number;
  timeOrigin?: number;
}

export function positiveInt(flag: string) {
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

/** `stateDir` unset: the command has no default folder and says in `stateDirHelp` what it does without one. */
export function addLocalRunOptions(
  command: Command,
  defaults: { logLevel: LocalRunOptions['logLevel']; stateDir?: string; stateDirHelp?: string },
): Command {
  return command
    .option('--state-dir <dir>', defaults.stateDirHelp ?? 'where the embedded DynamoDB keeps task records', defaults.stateDir)
    .option('--concurrency <n>', 'task executions running at once', positiveInt('--concurrency'), 10)
    .addOption(
      new Option('--log-level <level>', 'structured logs on stderr')
        .choices(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'])
        .default(defaults.logLevel),
    )
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

/** A simulator seed file named by `flag`, checked: a bad file is a usage error naming the file and the field. */
export function seedFromOption(file: string, flag = '--seed'): SimulatorSeed {
  try {
    return loadSeedFile(file);
  } catch (error) {
    if (error instanceof SeedError) throw new UsageError(`${flag}: ${error.message}`);
    throw error;
  }
}
