import { describeError } from '../../../lambdas/shared/errors';
import { receiveWebhook } from '../../../lambdas/webhook/webhook';
import type { LocalRunner, TaskProgressEvent } from '../../runner/local-runner';
import { startWebhookServer } from '../webhook-server';

export interface ServeOptions {
  runner: LocalRunner;
  /** The Standard Webhooks signing secret (`whsec_…`). */
  secret: string;
  port: number;
  host?: string;
  /** Also sweep every so many seconds (the pull trigger next to the push one). */
  sweepEverySeconds?: number | undefined;
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
  const deps = runner.webhookDeps(async () => options.secret);
  const server = await startWebhookServer({
    port: options.port,
    ...(options.host ? { host: options.host } : {}),
    receive: (request) => receiveWebhook(request, deps),
    onDelivery: ({ webhookId, response, durationMs }) => {
      let summary = '';
      try {
        const body = JSON.parse(response.body) as { status?: string; message?: string; executions?: Array<{ name: string; outcome: string }> };
        summary = [
          body.status,
          body.message,
          ...(body.executions ?? []).map((execution) => `${execution.name} ${execution.outcome}`),
        ]
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
        const report = await runner.sweep();
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
  if (options.sweepEverySeconds !== undefined && options.sweepEverySeconds > 0) {
    sweepOnce();
    timer = setInterval(sweepOnce, options.sweepEverySeconds * 1000);
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

/** The line `serve` prints when a task execution ends. */
export function taskEndLine(event: TaskProgressEvent): string | undefined {
  if (!['Succeeded', 'Failed', 'Aborted'].includes(event.stateName)) return undefined;
  return `task execution ${event.executionName} ${event.stateName.toLowerCase()} (entity ${event.input.entityId}, trigger ${event.input.trigger})`;
}
