import { z } from 'zod';
import { type RunnerSettings, runnerSettings, runnerSettingsSchema } from '../lambdas/shared/config/settings';

/**
 * What a deployment can choose, from CDK context (`cdk deploy -c pollIntervalMs=2000`) or stack props: the stack's
 * own settings below, plus every runner setting (lambdas/shared/settings.ts). Context values arrive as strings, so
 * numbers are coerced; a bad value fails the synth naming the setting.
 */
const count = (fallback: number, max: number) =>
  z.preprocess((value) => (value === undefined ? fallback : Number(value)), z.number().int().min(0).max(max));

const stackSettingsSchema = z.object({
  /** Secrets Manager secret holding the epilot API token (plain, or JSON `{"token": "..."}`). */
  epilotTokenSecretName: z.string().min(1).default('epilot-task-runner/api-token'),
  /** Secrets Manager secret holding the webhook signing secret (`whsec_…`, plain or JSON `{"secret": "..."}`). */
  webhookSecretName: z.string().min(1).default('epilot-task-runner/webhook-secret'),
  /** Reserved concurrency of the webhook receiver (caps cost under a flood); 0 reserves none. */
  webhookReservedConcurrency: count(10, 1000),
  /** One base URL for all three epilot APIs (a proxy); overrides the three below. */
  epilotApiUrl: z.url().optional(),
  entityApiUrl: z.url().optional(),
  workflowApiUrl: z.url().optional(),
  automationApiUrl: z.url().optional(),
  /** Minutes between two sweeps; 0 turns the schedule off (webhook only). */
  sweepRateMinutes: count(1, 1440),
});

const RUNNER_SETTING_KEYS = Object.keys(runnerSettingsSchema.shape) as Array<keyof RunnerSettings>;
/** Runner settings that are text; all others are numbers. */
const TEXT_RUNNER_SETTINGS: ReadonlySet<string> = new Set<keyof RunnerSettings>(['searchQuery']);

export const DEPLOYMENT_SETTING_KEYS = [...Object.keys(stackSettingsSchema.shape), ...RUNNER_SETTING_KEYS];

export type DeploymentSettings = z.output<typeof stackSettingsSchema> & { runner: RunnerSettings };

export function deploymentSettings(input: Record<string, unknown>): DeploymentSettings {
  const present = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = stackSettingsSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Invalid deployment setting (CDK context or props): ${problems.join('; ')}`);
  }
  const runner = Object.fromEntries(
    RUNNER_SETTING_KEYS.filter((key) => key in present).map((key) => [
      key,
      TEXT_RUNNER_SETTINGS.has(key) ? present[key] : Number(present[key]),
    ]),
  );
  return { ...parsed.data, runner: runnerSettings(runner) };
}
