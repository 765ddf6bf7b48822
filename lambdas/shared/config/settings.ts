import * as z from 'zod';

/**
 * Every setting of the runner, declared once. From this one table come the CDK context keys (the setting's name:
 * `cdk deploy -c pollIntervalMs=2000`), the Lambda environment variables (`POLL_INTERVAL_MS`), the command line
 * options (`--poll-interval-ms`) and their help. Values arrive as text from all three, so numbers are coerced
 * here, and a bad value is reported under the name the user typed.
 *
 * Each setting belongs to a group; a Lambda receives the variables of the groups its needs imply (see
 * `runtime/needs.ts`), and `stack` settings shape the infrastructure only.
 */

/** epilot's production hosts; each is configurable, and one override can point all three at a simulator or proxy. */
export const EPILOT_PRODUCTION_HOSTS = {
  entity: 'https://entity.sls.epilot.io',
  workflow: 'https://workflows-execution.sls.epilot.io',
  automation: 'https://automation.sls.epilot.io',
} as const;

export type EpilotApiName = keyof typeof EPILOT_PRODUCTION_HOSTS;
export type EpilotEndpoints = Record<EpilotApiName, string>;

export type SettingGroup = 'epilot' | 'runner' | 'webhook' | 'stack';

interface SettingSpec<G extends SettingGroup, S extends z.ZodType> {
  group: G;
  schema: S;
  /** One line for `--help` and the README. */
  help: string;
}

const spec = <G extends SettingGroup, S extends z.ZodType>(group: G, schema: S, help: string): SettingSpec<G, S> => ({
  group,
  schema,
  help,
});
/** Text from the environment, CDK context or an option becomes a number; anything else is refused in words. */
const int = (min: number, max: number, fallback: number) =>
  z
    .preprocess(
      (value) => (typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value),
      z
        .number({ error: 'must be a whole number' })
        .int({ error: 'must be a whole number' })
        .min(min, { error: `must be at least ${min}` })
        .max(max, { error: `must be at most ${max}` }),
    )
    .default(fallback);
const optionalUrl = z.url({ protocol: /^https?$/ }).optional();

const SETTINGS = {
  epilotApiUrl: spec('epilot', optionalUrl, 'one base URL for the entity, workflow and automation APIs (a proxy or simulator)'),
  entityApiUrl: spec('epilot', optionalUrl, 'entity API base URL (default: epilot production)'),
  workflowApiUrl: spec('epilot', optionalUrl, 'workflow API base URL (default: epilot production)'),
  automationApiUrl: spec('epilot', optionalUrl, 'automation API base URL (default: epilot production)'),
  epilotTokenSecretName: spec(
    'epilot',
    z.string().min(1).default('epilot-task-runner/api-token'),
    'Secrets Manager secret holding the epilot API token (plain, or JSON {"token": "..."})',
  ),
  pollIntervalMs: spec('runner', int(100, 60_000, 1000), 'milliseconds between two status calls of one automation run'),
  // Longer windows mean fewer state transitions (cheaper) and fewer Wait loops in the console; 0 polls once per loop.
  pollWindowMs: spec('runner', int(0, 600_000, 120_000), 'milliseconds one "Get automation status" call keeps polling'),
  automationTimeoutMs: spec(
    'runner',
    int(1000, 86_400_000, 300_000),
    'milliseconds from the start of a run until it is cancelled and its step failed',
  ),
  claimLeaseMs: spec(
    'runner',
    int(1000, 3_600_000, 120_000),
    'milliseconds a claim that has not started a run yet blocks other executions of the task',
  ),
  // Entity search may still show a finished task as current for a while, and re-checking costs an execution.
  doneSettleMs: spec(
    'runner',
    int(0, 86_400_000, 600_000),
    'milliseconds a sweep leaves a finished task alone (a reopened task is picked up after this)',
  ),
  // epilot's start has no idempotency key: a start without an answer may still create its run this long afterwards.
  startSettleMs: spec(
    'runner',
    int(1000, 86_400_000, 180_000),
    'milliseconds after a start without a definite answer before the runner starts again (it looks for the run meanwhile)',
  ),
  httpTimeoutMs: spec('epilot', int(100, 120_000, 10_000), 'upper bound in milliseconds of every HTTP call to epilot'),
  searchQuery: spec('runner', z.string().min(1).default('*'), 'Lucene query of the sweep’s entity search'),
  searchPageSize: spec('runner', int(1, 1000, 1000), 'entities per search page (epilot allows at most 1,000)'),
  webhookSecretName: spec(
    'webhook',
    z.string().min(1).default('epilot-task-runner/webhook-secret'),
    'Secrets Manager secret holding the webhook signing secret (whsec_…, plain or JSON {"secret": "..."})',
  ),
  // Default 0: reserving any makes `cdk deploy` fail on accounts whose quota would leave fewer than 100 unreserved.
  webhookReservedConcurrency: spec(
    'stack',
    int(0, 1000, 0),
    'webhook deliveries handled at once (caps cost under a flood; needs that much unreserved account quota); 0: no cap',
  ),
  sweepRateMinutes: spec('stack', int(0, 1440, 1), 'minutes between two scheduled sweeps; 0: no schedule'),
} as const;

type Specs = typeof SETTINGS;
export type SettingName = keyof Specs;
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

const settingsSchema = z.object(
  Object.fromEntries(SETTING_NAMES.map((name) => [name, SETTINGS[name].schema])) as { [K in SettingName]: Specs[K]['schema'] },
);
export type Settings = z.output<typeof settingsSchema>;
type GroupOf<K extends SettingName> = Specs[K]['group'];
type NamesIn<G extends SettingGroup> = { [K in SettingName]: GroupOf<K> extends G ? K : never }[SettingName];
export type SettingsOf<G extends SettingGroup> = Pick<Settings, NamesIn<G>>;

/** What the task and sweep logic reads, and the HTTP timeout every epilot client is built with. */
export type RunnerSettings = SettingsOf<'runner'> & Pick<Settings, 'httpTimeoutMs'>;

export function settingsIn(groups: readonly SettingGroup[]): SettingName[] {
  return SETTING_NAMES.filter((name) => groups.includes(SETTINGS[name].group));
}

export const settingHelp = (name: SettingName): string => SETTINGS[name].help;

/** The schema a setting is checked with (its range and default, for help texts). */
export const settingSchema = (name: SettingName): z.ZodType => SETTINGS[name].schema;

/** `pollIntervalMs` → `POLL_INTERVAL_MS` */
export const envName = (name: SettingName): string => name.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase();

/** `pollIntervalMs` → `poll-interval-ms` (the option is `--poll-interval-ms`) */
export const optionName = (name: SettingName): string => kebabCase(name);

/** `serverErrorRate` → `server-error-rate`: how every camel-case setting is spelled as a command line option. */
export const kebabCase = (name: string): string => name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);

/** A setting the user got wrong, named as the user wrote it (context key, variable or option). */
export class InvalidSettingsError extends Error {
  override readonly name = 'InvalidSettingsError';
}

/**
 * Parses settings from any source. `input` is keyed by setting name; empty text counts as unset. `nameOf` turns a
 * setting's name into the name the user typed, so the error points at what to fix; every problem is listed.
 */
export function parseSettings(
  input: Partial<Record<SettingName, unknown>>,
  source = 'setting',
  nameOf: (name: SettingName) => string = (name) => name,
): Settings {
  const present = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined && value !== ''));
  const result = settingsSchema.safeParse(present);
  const problems = result.success
    ? conflicts(result.data).map(({ name, message }) => `${source} ${nameOf(name)}: ${message(nameOf)}`)
    : result.error.issues.map((issue) => {
        const name = issue.path[0];
        const label = typeof name === 'string' && name in SETTINGS ? nameOf(name as SettingName) : issue.path.join('.');
        return `${source} ${label || '(root)'}: ${issue.message}`;
      });
  if (result.success && problems.length === 0) return result.data;
  throw new InvalidSettingsError(`Invalid configuration: ${problems.join('; ')}`);
}

/** Lambda's hard limit; one "Get automation status" call must fit in it. */
const MAX_FUNCTION_SECONDS = 900;

/** Settings that are each valid but cannot work together. */
function conflicts(settings: Settings): Array<{ name: SettingName; message: (nameOf: (name: SettingName) => string) => string }> {
  const found: Array<{ name: SettingName; message: (nameOf: (name: SettingName) => string) => string }> = [];
  if (settings.pollIntervalMs > settings.automationTimeoutMs) {
    found.push({
      name: 'pollIntervalMs',
      message: (nameOf) => `must not be longer than ${nameOf('automationTimeoutMs')} (${settings.automationTimeoutMs})`,
    });
  }
  if (settings.startSettleMs <= settings.httpTimeoutMs) {
    found.push({
      name: 'startSettleMs',
      message: (nameOf) => `must be longer than ${nameOf('httpTimeoutMs')} (${settings.httpTimeoutMs}): a start may still be in flight`,
    });
  }
  if (pollCallSeconds(settings) > MAX_FUNCTION_SECONDS) {
    found.push({
      name: 'pollWindowMs',
      message: (nameOf) =>
        `one status call (${nameOf('pollWindowMs')} + ${nameOf('pollIntervalMs')} + 6 × ${nameOf('httpTimeoutMs')}) ` +
        `must fit in Lambda's ${MAX_FUNCTION_SECONDS} s`,
    });
  }
  // The Start Lambda renews the claim just before epilot's start call, which may take 3 tries of httpTimeoutMs: a
  // claim that runs out meanwhile lets another execution take the task over and start a second run.
  if (settings.claimLeaseMs <= 3 * settings.httpTimeoutMs) {
    found.push({
      name: 'claimLeaseMs',
      message: (nameOf) =>
        `must be longer than one start call with its retries (3 × ${nameOf('httpTimeoutMs')} = ${3 * settings.httpTimeoutMs})`,
    });
  }
  // Each status loop adds about HISTORY_EVENTS_PER_POLL_LOOP events; a run that outgrows the history fails its
  // execution and leaves the record STARTED, unpolled, until its lease (past the deadline) runs out.
  const pollLoops = settings.automationTimeoutMs / Math.max(settings.pollWindowMs, settings.pollIntervalMs);
  if (pollLoops * HISTORY_EVENTS_PER_POLL_LOOP > MAX_HISTORY_EVENTS) {
    found.push({
      name: 'pollWindowMs',
      message: (nameOf) =>
        `polling a run for ${nameOf('automationTimeoutMs')} (${settings.automationTimeoutMs}) in loops of ` +
        `${nameOf('pollWindowMs')} (or ${nameOf('pollIntervalMs')} when longer) takes about ` +
        `${Math.ceil(pollLoops * HISTORY_EVENTS_PER_POLL_LOOP)} Step Functions history events, over the ${MAX_HISTORY_EVENTS} limit`,
    });
  }
  return found;
}

/** Step Functions' hard limit on one execution's history. */
const MAX_HISTORY_EVENTS = 25_000;
/** Task (scheduled, started, succeeded, state entered/exited) plus Choice and Wait: about 5 events per status loop. */
const HISTORY_EVENTS_PER_POLL_LOOP = 5;

/** How long one "Get automation status" invocation may take: the window, one more interval, a slow last call. */
export function pollCallSeconds(settings: Pick<Settings, 'pollWindowMs' | 'pollIntervalMs' | 'httpTimeoutMs'>): number {
  // A status call and, after the window, one step read (Get automation status watches the step), each with the
  // HTTP client's three tries.
  return Math.ceil((settings.pollWindowMs + settings.pollIntervalMs + 6 * settings.httpTimeoutMs) / 1000) + 10;
}

/** Runner settings with defaults for all but `input`: what tests and the local runner start from. */
export function runnerSettings(input: Partial<RunnerSettings> = {}): RunnerSettings {
  return runnerSettingsOf(parseSettings(input));
}

/** The runner's part of settings already parsed (no second parse at a cold start). */
export function runnerSettingsOf(settings: Settings): RunnerSettings {
  return pick(settings, RUNNER_SETTING_NAMES);
}

const RUNNER_SETTING_NAMES = [...settingsIn(['runner']), 'httpTimeoutMs'] as Array<keyof RunnerSettings>;

/** The environment variables that carry `names` (unset optional settings are left out). */
export function settingsEnvironment(settings: Settings, names: readonly SettingName[]): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const name of names) {
    const value = settings[name];
    if (value !== undefined) environment[envName(name)] = String(value);
  }
  return environment;
}

/** Reads every setting from a Lambda's environment; a bad value fails naming its variable. */
export function settingsFromEnvironment(env: Record<string, string | undefined>): Settings {
  return parseSettings(Object.fromEntries(SETTING_NAMES.map((name) => [name, env[envName(name)]])), 'environment variable', envName);
}

export function endpointsOf(
  settings: Partial<Pick<Settings, 'epilotApiUrl' | 'entityApiUrl' | 'workflowApiUrl' | 'automationApiUrl'>>,
): EpilotEndpoints {
  return {
    entity: settings.epilotApiUrl ?? settings.entityApiUrl ?? EPILOT_PRODUCTION_HOSTS.entity,
    workflow: settings.epilotApiUrl ?? settings.workflowApiUrl ?? EPILOT_PRODUCTION_HOSTS.workflow,
    automation: settings.epilotApiUrl ?? settings.automationApiUrl ?? EPILOT_PRODUCTION_HOSTS.automation,
  };
}

function pick<T extends object, K extends keyof T>(from: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((key) => [key, from[key]])) as Pick<T, K>;
}
