import type { Command } from 'commander';
import { endpointsOf, runnerSettingsOf, type Settings } from '../../../lambdas/shared/config/settings';
import { describeError } from '../../../lambdas/shared/errors';
import type { LocalRunner, TaskProgressEvent } from '../../runner/local-runner';
import { probeEpilotApi } from '../api-probe';
import {
  addLocalRunOptions,
  addSettingOptions,
  type LocalRunOptions,
  localClock,
  portNumber,
  portRefusal,
  settingsFromOptions,
} from '../options';
import { automationText, summarizeTask } from '../report';
import { DEFAULT_STATE_DIR, resolveToken, resolveWebhookSecret, startRunner } from '../run';
import { startWebhookServer } from '../webhook-server';

export interface ServeOptions {
  runner: LocalRunner;
  port: number;
  host?: string;
  /** Also sweep every so many minutes (the pull trigger next to the push one); 0 or unset: webhooks only. */
  sweepRateMinutes?: number | undefined;
  /** Deliveries handled at once; more are refused with 429, as Lambda throttles past its reserved concurrency. */
  maxDeliveriesInFlight?: number | undefined;
  /** Where the one-line log of each delivery, start, end and sweep goes. */
  out: { write(text: string): unknown };
}

export interface Serving {
  url: string;
  /** Stops accepting deliveries and sweeps, waits for deliveries and task executions in flight. Idempotent. */
  stop(): Promise<void>;
}

/** `epilot-task-runner serve`: the webhook receiver (and optionally the sweep) on this machine. */
export async function startServe(options: ServeOptions): Promise<Serving> {
  const { runner, out } = options;
  const line = (text: string) => out.write(`${new Date().toISOString()} ${text}\n`);
  const server = await startWebhookServer({
    port: options.port,
    ...(options.host ? { host: options.host } : {}),
    receive: (request) => runner.receiveWebhook(request),
    ...(options.maxDeliveriesInFlight ? { maxInFlight: options.maxDeliveriesInFlight } : {}),
    onDelivery: ({ webhookId, response, durationMs }) => {
      let summary: string;
      try {
        const body = JSON.parse(response.body) as {
          status?: string;
          message?: string;
          executions?: Array<{ name: string; outcome: string }>;
        };
        summary = [body.status, body.message, ...(body.executions ?? []).map((execution) => `${execution.name} ${execution.outcome}`)]
          .filter(Boolean)
          .join('; ');
      } catch {
        summary = response.body.slice(0, 200);
      }
      line(`delivery ${webhookId ?? '(no webhook-id)'} → ${response.statusCode} ${summary} (${durationMs} ms)`);
    },
  });

  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;
  let stopping = false;
  const sweepOnce = () => {
    if (sweeping || stopping) return;
    sweeping = (async () => {
      try {
        // Not waiting for the task executions it started: one hung automation would hold back every later sweep
        // (and the tasks they would find) until its timeout. Each execution's end is logged on its own line.
        const report = await runner.sweep({ waitForTasks: false });
        const sweep = report.sweep;
        line(
          report.sweepStatus === 'SUCCEEDED'
            ? `sweep: ${sweep?.candidates ?? 0} candidates, ${sweep?.started ?? 0} started, ${sweep?.alreadyRunning ?? 0} already running`
            : `sweep ${report.sweepStatus}: ${report.sweepError ?? ''}`,
        );
      } catch (error) {
        line(`sweep failed: ${describeError(error)}`);
      } finally {
        sweeping = undefined;
      }
    })();
  };
  if (options.sweepRateMinutes !== undefined && options.sweepRateMinutes > 0) {
    sweepOnce();
    timer = setInterval(sweepOnce, options.sweepRateMinutes * 60_000);
  }

  let stopped: Promise<void> | undefined;
  return {
    url: server.url,
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        if (timer) clearInterval(timer);
        await server.close();
        await sweeping;
        await runner.stop();
      })()),
  };
}

/**
 * The line `serve` prints when a task execution ends: what it patched the step to and how the automation ended
 * (an execution that succeeded may well have failed the step), or why it patched nothing.
 */
function taskEndLine(event: TaskProgressEvent): string | undefined {
  if (!event.report) return undefined;
  const task = summarizeTask(event.report);
  const what =
    task.outcome === 'patched'
      ? `: automation ${automationText(task)} → step ${task.stepStatus ?? '?'}`
      : ` ${task.outcome}: ${task.reason ?? ''}`;
  return `task execution ${task.executionName}${what} (entity ${event.input.entityId}, trigger ${event.input.trigger})`;
}

/** Locally the schedule is opt-in: a laptop receiving webhooks should not also sweep an organisation unasked. */
const SERVE_DEFAULTS: Partial<Settings> = { sweepRateMinutes: 0 };

type ServeCommandOptions = LocalRunOptions & {
  port: number;
  token?: string;
  epilotTokenSecretName?: string;
  webhookSecret?: string;
  webhookSecretName?: string;
};

/** `epilot-task-runner serve`: receive signed webhooks on loopback and run the tasks they point at. */
export function addServeCommand(program: Command): void {
  const command = program
    .command('serve')
    .description('receive signed epilot webhooks on POST /webhook (loopback) and run the tasks they point at')
    .option('--port <port>', 'port on 127.0.0.1 to listen on (0: any free port)', portNumber('--port'), 8787)
    .option('--token <token>', 'epilot API token (default: $EPILOT_API_TOKEN)')
    .option('--webhook-secret <whsec>', 'the webhook signing secret (default: $EPILOT_WEBHOOK_SECRET)');
  addSettingOptions(command, ['epilot', 'runner', 'webhook', 'stack'], SERVE_DEFAULTS);
  addLocalRunOptions(command, { logLevel: 'WARN', stateDir: DEFAULT_STATE_DIR });
  command.action(async (options: ServeCommandOptions) => {
    const settings = settingsFromOptions(options, SERVE_DEFAULTS);
    const token = await resolveToken(options, settings);
    const secret = await resolveWebhookSecret(options, settings);
    const endpoints = endpointsOf(settings);
    const clock = localClock(options);
    // Before listening: a wrong token or an unreachable API would otherwise show only as failed task executions.
    await probeEpilotApi({ endpoints, token, settings, clock });
    const say = (text: string) => process.stdout.write(`${new Date().toISOString()} ${text}\n`);
    const runner = await startRunner(options, {
      endpoints,
      token,
      settings: runnerSettingsOf(settings),
      clock,
      webhookSecret: secret,
      onTaskEvent: (event) => {
        const text = taskEndLine(event);
        if (text) say(text);
      },
    });
    let serving: Serving;
    try {
      serving = await startServe({
        runner,
        port: options.port,
        sweepRateMinutes: settings.sweepRateMinutes,
        maxDeliveriesInFlight: settings.webhookReservedConcurrency,
        out: process.stdout,
      });
    } catch (error) {
      await runner.stop();
      throw portRefusal(error, '--port', options.port);
    }
    say(`listening for epilot webhooks on ${serving.url} (Ctrl-C stops)`);
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    say(`${signal}: no new deliveries; waiting for task executions in flight…`);
    await serving.stop();
    say('stopped');
  });
}
