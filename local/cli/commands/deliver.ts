import { type Command, InvalidArgumentError } from 'commander';
import * as z from 'zod';
import { addSettingOptions, settingsFromOptions, UsageError } from '../options';
import { resolveWebhookSecret } from '../run';
import { signedDelivery } from '../signed-delivery';

interface DeliverOptions {
  url: string;
  webhookSecret?: string;
  webhookSecretName?: string;
  webhookId?: string;
  entityId: string;
  schema: string;
  workflowExecutionId?: string;
  taskId?: string;
}

function httpUrl(value: string): string {
  if (!z.url({ protocol: /^https?$/ }).safeParse(value).success) throw new InvalidArgumentError('--url must be an http(s) URL');
  return value;
}

/** The delivery was not accepted (exit code 1); `name` is worded to be read in the CLI's one-line error. */
class DeliveryFailed extends Error {
  override readonly name = 'delivery failed';
}

/** The body epilot's "Trigger webhook" action sends for `options`' entity. */
function deliveryBody(options: Pick<DeliverOptions, 'entityId' | 'schema' | 'workflowExecutionId' | 'taskId'>): string {
  // With a task: the entity as epilot sends it while the workflow waits on that task. Without: no workflows, so the
  // receiver looks the entity up by search, as it does for a payload configured without them.
  const summary =
    options.workflowExecutionId === undefined || options.taskId === undefined
      ? undefined
      : { id: options.workflowExecutionId, status: 'STARTED', task_id: options.taskId, task_execution_type: 'AUTOMATION' };
  return JSON.stringify({
    metadata: { automation_name: 'epilot-task-runner deliver', creation_timestamp: new Date().toISOString() },
    entity: { _id: options.entityId, _schema: options.schema, ...(summary ? { workflows: { primary: summary } } : {}) },
    relations: [],
  });
}

/** `epilot-task-runner deliver`: one signed test delivery to a running `serve` (or any Standard Webhooks receiver). */
export function addDeliverCommand(program: Command): void {
  const command = program
    .command('deliver')
    .description('send one signed test webhook delivery, as epilot would, to a running `serve` and print the answer')
    .option('--url <url>', 'the receiver', httpUrl, 'http://127.0.0.1:8787/webhook')
    .option('--webhook-secret <whsec>', 'the signing secret serve was given (default: $EPILOT_WEBHOOK_SECRET)')
    .requiredOption('--entity-id <id>', 'the entity the delivery is about')
    .option('--schema <schema>', "the entity's schema", 'opportunity')
    .option('--workflow-execution-id <id>', 'with --task-id: the workflow waiting on an automation task (default: serve looks it up)')
    .option('--task-id <id>', 'with --workflow-execution-id: the automation task the workflow waits on')
    .option('--webhook-id <id>', 'the delivery id; send the same one twice to see a redelivery refused (default: a new one)');
  addSettingOptions(command, ['webhook']);
  command.action(async (options: DeliverOptions) => {
    const settings = settingsFromOptions(options);
    if ((options.workflowExecutionId === undefined) !== (options.taskId === undefined)) {
      throw new UsageError('pass --workflow-execution-id and --task-id together, or neither');
    }
    const secret = await resolveWebhookSecret(options, settings);
    let delivery: ReturnType<typeof signedDelivery>;
    try {
      delivery = signedDelivery(deliveryBody(options), { secret, ...(options.webhookId ? { id: options.webhookId } : {}) });
    } catch {
      // Never the secret itself in the message: only that it cannot sign.
      throw new UsageError('the webhook signing secret cannot sign: after whsec_ it must be base64, as epilot shows it');
    }
    let response: Response;
    try {
      response = await fetch(options.url, { method: 'POST', headers: delivery.headers, body: delivery.body });
    } catch (error) {
      // fetch's own error says only "fetch failed"; its cause says why (ECONNREFUSED, a bad port…).
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
      const why = cause && 'code' in cause ? String(cause.code) : (cause?.message ?? String(error));
      throw new DeliveryFailed(`nothing answered at --url ${options.url} (${why}): is \`serve\` running there?`);
    }
    const text = await response.text();
    process.stdout.write(`${response.status} ${response.statusText} (webhook-id ${delivery.headers['webhook-id']})\n${text}\n`);
    if (!response.ok) throw new DeliveryFailed(`the receiver answered ${response.status}`);
  });
}
