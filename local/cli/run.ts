import { Webhook } from 'standardwebhooks';
import type { Clock } from '../../lambdas/shared/clock';
import type { EpilotEndpoints, RunnerSettings, Settings } from '../../lambdas/shared/config/settings';
import { secretsManagerToken, secretsManagerWebhookSecret } from '../../lambdas/shared/runtime/secrets';
import { LocalRunner, type SweepReport, type TaskProgressEvent } from '../runner/local-runner';
import { flagOf, type LocalRunOptions, UsageError } from './options';
import { type ProgressView, renderSummaryTable, sweepSummaryJson } from './report';
import { StderrLogger } from './stderr-logger';

export const DEFAULT_STATE_DIR = '.epilot-task-runner';

/** The sweep ended in a state other than SUCCEEDED: its error is what the user needs to see. */
export class SweepFailed extends Error {
  override readonly name = 'SweepFailed';
}

export function startRunner(
  options: LocalRunOptions,
  run: {
    endpoints: EpilotEndpoints;
    token: string;
    settings: RunnerSettings;
    clock: Clock;
    webhookSecret?: string;
    onTaskEvent?: (event: TaskProgressEvent) => void;
  },
): Promise<LocalRunner> {
  return LocalRunner.create({
    ...run,
    logger: new StderrLogger({ logLevel: options.logLevel }),
    stateDir: options.stateDir,
    concurrency: options.concurrency,
    timeScale: options.timeScale,
  });
}

export async function runSweep(runner: LocalRunner, json: boolean, progress: ProgressView | undefined): Promise<SweepReport> {
  const report = await runner.sweep();
  progress?.finish();
  if (report.sweepStatus !== 'SUCCEEDED') throw new SweepFailed(report.sweepError ?? 'the sweep failed');
  if (json) process.stdout.write(`${JSON.stringify(sweepSummaryJson(report), null, 2)}\n`);
  else process.stdout.write(`${renderSummaryTable(report)}\n`);
  return report;
}

/**
 * The epilot token: `--token`, `$EPILOT_API_TOKEN`, or the deployment's secret when `--epilot-token-secret-name`
 * is given (read from Secrets Manager with the usual AWS credentials). Only one source may be named.
 */
export async function resolveToken(options: { token?: string; epilotTokenSecretName?: string }, settings: Settings): Promise<string> {
  const fromEnv = process.env.EPILOT_API_TOKEN;
  if (options.token !== undefined && options.epilotTokenSecretName !== undefined) {
    throw new UsageError(`pass either --token or ${flagOf('epilotTokenSecretName')}, not both`);
  }
  if (options.epilotTokenSecretName !== undefined) return secretsManagerToken(settings.epilotTokenSecretName)();
  const token = options.token ?? fromEnv;
  if (!token) throw new UsageError(`no epilot API token: pass --token, set EPILOT_API_TOKEN or pass ${flagOf('epilotTokenSecretName')}`);
  return token;
}

/**
 * The webhook signing secret: `--webhook-secret`, `$EPILOT_WEBHOOK_SECRET`, or `--webhook-secret-name`. It is
 * checked the way the receiver reads it (a Standard Webhooks verifier is built from it), so a secret that would
 * answer every delivery with 500 is refused before `serve` listens, naming where it came from (never its value).
 */
export async function resolveWebhookSecret(
  options: { webhookSecret?: string; webhookSecretName?: string },
  settings: Settings,
): Promise<string> {
  if (options.webhookSecret !== undefined && options.webhookSecretName !== undefined) {
    throw new UsageError(`pass either --webhook-secret or ${flagOf('webhookSecretName')}, not both`);
  }
  const fromSecretsManager = options.webhookSecretName !== undefined;
  const secret = fromSecretsManager
    ? await secretsManagerWebhookSecret(settings.webhookSecretName)()
    : (options.webhookSecret ?? process.env.EPILOT_WEBHOOK_SECRET);
  if (!secret) {
    throw new UsageError(
      `no webhook signing secret: pass --webhook-secret, set EPILOT_WEBHOOK_SECRET or pass ${flagOf('webhookSecretName')}`,
    );
  }
  const source = fromSecretsManager
    ? `the secret ${settings.webhookSecretName} (${flagOf('webhookSecretName')})`
    : options.webhookSecret !== undefined
      ? '--webhook-secret'
      : 'EPILOT_WEBHOOK_SECRET';
  if (!secret.startsWith('whsec_')) throw new UsageError(`${source}: the webhook signing secret must start with whsec_`);
  try {
    new Webhook(secret);
  } catch (error) {
    // The library's reason ("incorrect characters", "incorrect padding", "can't be empty") never quotes the secret.
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${source}: not a usable webhook signing secret: after whsec_ must come its key in base64 (${reason})`);
  }
  return secret;
}
