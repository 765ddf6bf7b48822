import { Webhook } from 'standardwebhooks';
import type { Clock } from '../../lambdas/shared/clock';
import type { EpilotEndpoints, RunnerSettings, Settings } from '../../lambdas/shared/config/settings';
import { secretsManagerToken, secretsManagerWebhookSecret } from '../../lambdas/shared/runtime/secrets';
import { type InterruptReport, LocalRunner, type SweepReport, type TaskProgressEvent } from '../runner/local-runner';
import { flagOf, type LocalRunOptions, UsageError } from './options';
import { type ProgressView, renderSummaryTable, sweepSummaryJson } from './report';
import { StderrLogger } from './stderr-logger';

export const DEFAULT_STATE_DIR = '.epilot-task-runner';

/** The sweep ended in a state other than SUCCEEDED: its error is what the user needs to see. */
export class SweepFailed extends Error {
  override readonly name = 'SweepFailed';
}

/** The user stopped the work (Ctrl-C, SIGTERM); the message says what is left and how the next sweep finishes it. */
export class Interrupted extends Error {
  override readonly name = 'Interrupted';
}

/**
 * Ctrl-C and SIGTERM from now until `dispose`. Before `attach` nothing has started: the command exits 130 at once,
 * saying so. After it, the first interrupts the runner (see LocalRunner.interrupt) and `during`'s work ends in
 * Interrupted, whose message lists what is left running; a second exits at once. The handlers stay until `dispose`,
 * so a second Ctrl-C while the runner stops still exits at once.
 */
export function interruptible(stateDir: string | undefined) {
  let runner: LocalRunner | undefined;
  let interrupting: { signal: NodeJS.Signals; report: Promise<InterruptReport> } | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (runner === undefined) {
      exitNow(`${signal}: stopped before any task was started`);
      return;
    }
    if (interrupting) {
      exitNow(`${signal} again: exiting at once`);
      return;
    }
    process.stderr.write(`epilot-task-runner: ${signal}: stopping, no more tasks are started (Ctrl-C again to exit at once)\n`);
    interrupting = { signal, report: runner.interrupt() };
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    attach(started: LocalRunner): void {
      runner = started;
    },
    async during<T>(work: Promise<T>): Promise<T> {
      const outcome = await work.then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      // An interruption ends the work (its sweep aborted): what it left is the news, not the abort.
      if (interrupting !== undefined) throw new Interrupted(interruptSummary(interrupting.signal, await interrupting.report, stateDir));
      if (!outcome.ok) throw outcome.error;
      return outcome.value;
    },
    dispose(): void {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Exits 130 once `message` is written out (stderr is asynchronous on some systems). */
function exitNow(message: string): void {
  process.stderr.write(`epilot-task-runner: ${message}\n`, () => process.exit(130));
}

/** What an interrupted sweep left, and how the next one finishes it: a line, then one line per run left. */
export function interruptSummary(signal: string, report: InterruptReport, stateDir: string | undefined): string {
  const tasks = (count: number) => `${count} task${count === 1 ? '' : 's'}`;
  const next = stateDir === undefined ? 'the next sweep' : `the next sweep with --state-dir ${stateDir}`;
  const running = report.leftRunning.length;
  const lines = [
    `interrupted (${signal}): ${tasks(report.notStarted.length)} not started (no claim kept), ` +
      (running === 0 ? 'none left running.' : `${tasks(running)} left running:`),
    ...report.leftRunning.map((task) => {
      const what =
        task.stage === 'start-sent'
          ? 'start sent, run id not known yet'
          : task.stage === 'patching'
            ? `run ${task.runId ?? '?'} ended, step patch pending`
            : `run ${task.runId ?? '?'} going on in epilot`;
      return `  ${task.workflowExecutionId}/${task.taskId}: ${what}`;
    }),
  ];
  if (running > 0) {
    lines.push(`${next} takes these over at once (this process is gone),`, 'follows each run to its end and patches its step.');
  } else if (report.notStarted.length > 0) {
    lines.push(`${next} starts them.`);
  }
  if (report.callsInFlight > 0) lines.push(`${report.callsInFlight} call(s) to epilot were still unanswered when the runner stopped.`);
  return lines.join('\n');
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
  // Its tasks were aborted, not done: the interruption's summary says what is left instead of a table of aborts.
  if (runner.interrupted) return report;
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
