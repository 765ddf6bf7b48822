import { z } from 'zod';
import { type RunnerSettings, runnerSettings } from '../lambdas/shared/settings';

/**
 * What a deployment can choose, from CDK context (`cdk deploy -c pollIntervalMs=2000`) or stack props. Context
 * values arrive as strings, so numbers are coerced; a bad value fails the synth naming the setting.
 */
const optionalNumber = z.preprocess((value) => (value === undefined ? undefined : Number(value)), z.number().optional());

const deploymentInputSchema = z.object({
  /** Secrets Manager secret holding the epilot API token (plain, or JSON `{"token": "..."}`). */
  epilotTokenSecretName: z.string().min(1).default('epilot-task-runner/api-token'),
  /** Secrets Manager secret holding the webhook signing secret (`whsec_…`, plain or JSON `{"secret": "..."}`). */
  webhookSecretName: z.string().min(1).default('epilot-task-runner/webhook-secret'),
  /** Reserved concurrency of the webhook receiver (caps cost under a flood); 0 reserves none. */
  webhookReservedConcurrency: z.preprocess((value) => (value === undefined ? 10 : Number(value)), z.number().int().min(0).max(1000)),
  /** One base URL for all three epilot APIs (a proxy); overrides the three below. */
  epilotApiUrl: z.url().optional(),
  entityApiUrl: z.url().optional(),
  workflowApiUrl: z.url().optional(),
  automationApiUrl: z.url().optional(),
  /** Minutes between two sweeps; 0 turns the schedule off (webhook only). */
  sweepRateMinutes: z.preprocess((value) => (value === undefined ? 1 : Number(value)), z.number().int().min(0).max(1440)),
  searchQuery: z.string().min(1).optional(),
  searchPageSize: optionalNumber,
  pollIntervalMs: optionalNumber,
  pollWindowMs: optionalNumber,
  automationTimeoutMs: optionalNumber,
  claimLeaseMs: optionalNumber,
  doneSettleMs: optionalNumber,
  httpTimeoutMs: optionalNumber,
});

export const DEPLOYMENT_SETTING_KEYS = Object.keys(deploymentInputSchema.shape);

export interface DeploymentSettings {
  epilotTokenSecretName: string;
  webhookSecretName: string;
  webhookReservedConcurrency: number;
  epilotApiUrl?: string | undefined;
  entityApiUrl?: string | undefined;
  workflowApiUrl?: string | undefined;
  automationApiUrl?: string | undefined;
  sweepRateMinutes: number;
  runner: RunnerSettings;
}

export function deploymentSettings(input: Record<string, unknown>): DeploymentSettings {
  const present = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = deploymentInputSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Invalid deployment setting (CDK context or props): ${problems.join('; ')}`);
  }
  const {
    epilotTokenSecretName,
    webhookSecretName,
    webhookReservedConcurrency,
    epilotApiUrl,
    entityApiUrl,
    workflowApiUrl,
    automationApiUrl,
    sweepRateMinutes,
    ...runner
  } = parsed.data;
  return {
    epilotTokenSecretName,
    webhookSecretName,
    webhookReservedConcurrency,
    epilotApiUrl,
    entityApiUrl,
    workflowApiUrl,
    automationApiUrl,
    sweepRateMinutes,
    runner: runnerSettings(Object.fromEntries(Object.entries(runner).filter(([, value]) => value !== undefined))),
  };
}
