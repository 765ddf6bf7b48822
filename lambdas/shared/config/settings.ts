import * as z from 'zod';

/** epilot's production hosts; each is configurable, and one override can point all three at a simulator or proxy. */
export const EPILOT_PRODUCTION_HOSTS = {
  entity: 'https://entity.sls.epilot.io',
  workflow: 'https://workflows-execution.sls.epilot.io',
  automation: 'https://automation.sls.epilot.io',
} as const;

export type EpilotApiName = keyof typeof EPILOT_PRODUCTION_HOSTS;
export type EpilotEndpoints = Record<EpilotApiName, string>;

export function resolveEndpoints(urls: {
  apiUrl?: string | undefined;
  entityUrl?: string | undefined;
  workflowUrl?: string | undefined;
  automationUrl?: string | undefined;
}): EpilotEndpoints {
  return {
    entity: urls.apiUrl ?? urls.entityUrl ?? EPILOT_PRODUCTION_HOSTS.entity,
    workflow: urls.apiUrl ?? urls.workflowUrl ?? EPILOT_PRODUCTION_HOSTS.workflow,
    automation: urls.apiUrl ?? urls.automationUrl ?? EPILOT_PRODUCTION_HOSTS.automation,
  };
}

/** How the pipeline behaves; the same settings drive Lambdas (from env), the local runner and the CDK stack. */
export const runnerSettingsSchema = z.object({
  /** Between two status calls of one automation run. */
  pollIntervalMs: z.number().int().min(100).max(60_000).default(1000),
  /**
   * How long one "Get automation status" invocation keeps polling before handing back to the Wait state. Longer
   * windows mean fewer state transitions (cheaper) and fewer Wait loops in the console; 0 polls once per loop.
   */
  pollWindowMs: z.number().int().min(0).max(600_000).default(120_000),
  /** From the start of an automation run until the runner gives up, cancels it and fails the step. */
  automationTimeoutMs: z.number().int().min(1000).max(86_400_000).default(300_000),
  /** How long a claim that has not started a run yet blocks other executions of the same task. */
  claimLeaseMs: z.number().int().min(1000).max(3_600_000).default(120_000),
  /**
   * How long a sweep leaves a task alone after finishing it: entity search may still show it as current for a
   * while, and re-checking costs an execution. A reopened task is picked up after this at the latest.
   */
  doneSettleMs: z.number().int().min(0).max(86_400_000).default(600_000),
  /** Upper bound for every single HTTP call to epilot. */
  httpTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  /** Lucene query of the sweep's entity search. */
  searchQuery: z.string().min(1).default('*'),
  /** Entities per search page (epilot allows at most 1,000). */
  searchPageSize: z.number().int().min(1).max(1000).default(1000),
});
export type RunnerSettings = z.infer<typeof runnerSettingsSchema>;
export type RunnerSettingsInput = z.input<typeof runnerSettingsSchema>;

export function runnerSettings(input: RunnerSettingsInput = {}): RunnerSettings {
  return parseOrExplain(runnerSettingsSchema, input, 'setting');
}

/** The environment variables Lambdas read; the CDK code sets them from this same list. */
export const EnvNames = {
  apiUrl: 'EPILOT_API_URL',
  entityUrl: 'EPILOT_ENTITY_API_URL',
  workflowUrl: 'EPILOT_WORKFLOW_API_URL',
  automationUrl: 'EPILOT_AUTOMATION_API_URL',
  tokenSecretName: 'EPILOT_TOKEN_SECRET_NAME',
  webhookSecretName: 'EPILOT_WEBHOOK_SECRET_NAME',
  taskTableName: 'TASK_TABLE_NAME',
  taskStateMachineArn: 'TASK_STATE_MACHINE_ARN',
  pollIntervalMs: 'POLL_INTERVAL_MS',
  pollWindowMs: 'POLL_WINDOW_MS',
  automationTimeoutMs: 'AUTOMATION_TIMEOUT_MS',
  claimLeaseMs: 'CLAIM_LEASE_MS',
  doneSettleMs: 'DONE_SETTLE_MS',
  httpTimeoutMs: 'HTTP_TIMEOUT_MS',
  searchQuery: 'SEARCH_QUERY',
  searchPageSize: 'SEARCH_PAGE_SIZE',
} as const;

const optionalUrl = z.url({ protocol: /^https?$/ }).optional();
const optionalInt = z.coerce.number().int().optional();

const lambdaEnvSchema = z.object({
  [EnvNames.apiUrl]: optionalUrl,
  [EnvNames.entityUrl]: optionalUrl,
  [EnvNames.workflowUrl]: optionalUrl,
  [EnvNames.automationUrl]: optionalUrl,
  [EnvNames.tokenSecretName]: z.string().min(1).optional(),
  [EnvNames.webhookSecretName]: z.string().min(1).optional(),
  [EnvNames.taskTableName]: z.string().min(1).optional(),
  [EnvNames.taskStateMachineArn]: z.string().startsWith('arn:').optional(),
  [EnvNames.pollIntervalMs]: optionalInt,
  [EnvNames.pollWindowMs]: optionalInt,
  [EnvNames.automationTimeoutMs]: optionalInt,
  [EnvNames.claimLeaseMs]: optionalInt,
  [EnvNames.doneSettleMs]: optionalInt,
  [EnvNames.httpTimeoutMs]: optionalInt,
  [EnvNames.searchQuery]: z.string().min(1).optional(),
  [EnvNames.searchPageSize]: optionalInt,
});

export interface LambdaConfig {
  endpoints: EpilotEndpoints;
  tokenSecretName: string | undefined;
  /** Only the webhook receiver has it. */
  webhookSecretName?: string | undefined;
  taskTableName: string | undefined;
  taskStateMachineArn: string | undefined;
  settings: RunnerSettings;
}

/** Reads and checks a Lambda's environment once, at cold start; a bad value fails with the variable's name. */
export function lambdaConfigFromEnv(env: NodeJS.ProcessEnv = process.env): LambdaConfig {
  const vars = parseOrExplain(lambdaEnvSchema, emptyToUndefined(env), 'environment variable');
  const settingsInput: RunnerSettingsInput = {
    pollIntervalMs: vars.POLL_INTERVAL_MS,
    pollWindowMs: vars.POLL_WINDOW_MS,
    automationTimeoutMs: vars.AUTOMATION_TIMEOUT_MS,
    claimLeaseMs: vars.CLAIM_LEASE_MS,
    doneSettleMs: vars.DONE_SETTLE_MS,
    httpTimeoutMs: vars.HTTP_TIMEOUT_MS,
    searchQuery: vars.SEARCH_QUERY,
    searchPageSize: vars.SEARCH_PAGE_SIZE,
  };
  // Not runnerSettings(): a value out of range must name its variable (POLL_INTERVAL_MS), not the setting.
  const settings = parseOrExplain(runnerSettingsSchema, settingsInput, 'environment variable', (setting) =>
    Object.hasOwn(EnvNames, setting) ? EnvNames[setting as keyof typeof EnvNames] : setting,
  );
  return {
    endpoints: resolveEndpoints({
      apiUrl: vars.EPILOT_API_URL,
      entityUrl: vars.EPILOT_ENTITY_API_URL,
      workflowUrl: vars.EPILOT_WORKFLOW_API_URL,
      automationUrl: vars.EPILOT_AUTOMATION_API_URL,
    }),
    tokenSecretName: vars.EPILOT_TOKEN_SECRET_NAME,
    webhookSecretName: vars.EPILOT_WEBHOOK_SECRET_NAME,
    taskTableName: vars.TASK_TABLE_NAME,
    taskStateMachineArn: vars.TASK_STATE_MACHINE_ARN,
    settings,
  };
}

/** A required piece of configuration, or an error that names the variable. */
export function required<T>(value: T | undefined, variable: string): T {
  if (value === undefined) throw new Error(`Missing configuration: ${variable} must be set`);
  return value;
}

function emptyToUndefined(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value === '' ? undefined : value]));
}

function parseOrExplain<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
  nameOf: (path: string) => string = (path) => path,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${what} ${nameOf(issue.path.join('.')) || '(root)'}: ${issue.message}`);
  throw new Error(`Invalid configuration: ${problems.join('; ')}`);
}
