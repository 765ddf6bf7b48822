import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import * as z from 'zod';
import type { Clock } from '../shared/clock';
import type { DeliveryStore } from '../shared/records/delivery-records';
import { detectAutomationTasks } from '../shared/domain/detection';
import { type EntityApi, type SearchedEntity, searchedEntitySchema } from '../shared/epilot/entity-api';
import { describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { TaskRecords } from '../shared/records/task-records';
import { type StartOutcome, type TaskExecutionStarter, startTaskExecution } from '../shared/domain/task-starter';

/** Larger bodies are refused before anything else is done with them. */
export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;

export interface WebhookRequest {
  /** Header names in any case. */
  headers: Record<string, string | undefined>;
  /** The raw body, exactly as received (the signature is over these bytes). */
  body: string;
  bodyIsBase64?: boolean;
}

export interface WebhookResponse {
  statusCode: number;
  /** JSON */
  body: string;
}

export interface WebhookDeps {
  /** The Standard Webhooks signing secret (`whsec_…`). */
  secret: () => Promise<string>;
  deliveries: DeliveryStore;
  entities: Pick<EntityApi, 'findById'>;
  records: TaskRecords;
  starter: TaskExecutionStarter;
  clock: Clock;
  logger: Logger;
}

export interface WebhookExecution {
  name: string;
  outcome: StartOutcome;
}

/** What epilot's "trigger webhook" action sends; the entity is read like an entity search result. */
const webhookBodySchema = z.looseObject({
  metadata: z.looseObject({}).nullish(),
  entity: searchedEntitySchema,
  relations: z.unknown().optional(),
});
type WebhookBody = z.output<typeof webhookBodySchema>;

const reply = (statusCode: number, body: Record<string, unknown>): WebhookResponse => ({
  statusCode,
  body: JSON.stringify(body),
});

/**
 * One webhook delivery from epilot: authenticated (Standard Webhooks signature) before its body is looked at,
 * deduplicated by `webhook-id` once its executions have started (a retry while another receiver holds the delivery's
 * processing lease is answered 429, one after that lease ran out does the work), detected with the same rule as the sweep and started like the sweep starts.
 * 202 when task executions were started (or found running), 200 when there was nothing to do or it was a replay.
 */
export async function receiveWebhook(request: WebhookRequest, deps: WebhookDeps): Promise<WebhookResponse> {
  const { logger } = deps;
  const headers = lowerCaseHeaders(request.headers);
  const rawBytes = request.bodyIsBase64 ? Buffer.from(request.body, 'base64') : Buffer.from(request.body, 'utf8');
  if (rawBytes.byteLength > MAX_WEBHOOK_BODY_BYTES) {
    logger.warn('Webhook refused: body too large', { bytes: rawBytes.byteLength });
    return reply(413, { status: 'rejected', message: `body is larger than ${MAX_WEBHOOK_BODY_BYTES} bytes` });
  }
  const raw = request.bodyIsBase64 ? rawBytes.toString('utf8') : request.body;

  const deliveryId = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signature = headers['webhook-signature'];
  if (!deliveryId || !timestamp || !signature) {
    logger.warn('Webhook refused: signature headers missing', { webhookId: deliveryId });
    return reply(401, { status: 'unauthorized', message: 'missing webhook-id, webhook-timestamp or webhook-signature' });
  }
  let verifier: Webhook;
  try {
    verifier = new Webhook(await deps.secret());
  } catch (error) {
    // Never the secret itself: only that it could not be used.
    logger.error('Webhook secret unusable', { error: error instanceof Error ? error.name : 'unknown' });
    return reply(500, { status: 'error', message: 'the receiver is misconfigured' });
  }
  try {
    verifier.verify(
      raw,
      { 'webhook-id': deliveryId, 'webhook-timestamp': timestamp, 'webhook-signature': signature },
      { jsonParse: false },
    );
  } catch (error) {
    const reason = error instanceof WebhookVerificationError ? error.message : 'signature could not be verified';
    logger.warn('Webhook refused: bad signature', { webhookId: deliveryId, webhookTimestamp: timestamp, reason });
    return reply(401, { status: 'unauthorized', message: reason });
  }

  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    const reason = `malformed JSON: ${error instanceof Error ? error.message : String(error)}`;
    // Not `message`: Powertools reserves that key for the line's own text and drops the field.
    logger.warn('Webhook refused: malformed JSON', { webhookId: deliveryId, reason });
    return reply(400, { status: 'rejected', message: reason });
  }
  const parsed = parseWebhookBody(json);
  if ('problem' in parsed) {
    logger.warn('Webhook refused: unusable body', { webhookId: deliveryId, reason: parsed.problem });
    return reply(400, { status: 'rejected', message: parsed.problem });
  }
  const { body } = parsed;

  const claim = await deps.deliveries.claim(deliveryId, deps.clock.now());
  if (!claim.claimed && claim.state === 'done') {
    logger.info('Webhook delivery seen before; nothing started', { webhookId: deliveryId, entityId: body.entity._id });
    return reply(200, { status: 'duplicate', webhookId: deliveryId });
  }
  if (!claim.claimed) {
    // Another receiver holds the delivery's processing lease. 429 is retryable for epilot (as are 5xx), and its next
    // retry comes after the lease has run out, so a receiver that died meanwhile does not lose the delivery.
    logger.info('Webhook delivery in progress elsewhere; asked to retry later', { webhookId: deliveryId, entityId: body.entity._id });
    return reply(429, { status: 'in progress', webhookId: deliveryId, message: 'this delivery is being processed; retry later' });
  }

  try {
    const entity = await entityWithWorkflows(body.entity, deps);
    if (!entity) {
      logger.info('Webhook entity not found by search; nothing started', { webhookId: deliveryId, entityId: body.entity._id });
      await deps.deliveries.complete(deliveryId, claim.token, deps.clock.now());
      return reply(200, { status: 'nothing to do', reason: 'entity not found' });
    }
    const candidates = detectAutomationTasks(entity);
    if (candidates.length === 0) {
      logger.info('Webhook entity has no automation task waiting', { webhookId: deliveryId, entityId: entity._id });
      await deps.deliveries.complete(deliveryId, claim.token, deps.clock.now());
      return reply(200, { status: 'nothing to do' });
    }
    const executions: WebhookExecution[] = [];
    for (const candidate of candidates) {
      const started = await startTaskExecution(candidate, 'webhook', {
        records: deps.records,
        starter: deps.starter,
        clock: deps.clock,
        logger,
        doneSettleMs: 0,
      });
      executions.push({ name: started.name, outcome: started.outcome });
    }
    // Only now is the delivery seen: a receiver that dies before this line leaves a lease a retry can take over.
    await deps.deliveries.complete(deliveryId, claim.token, deps.clock.now());
    logger.info('Webhook delivery processed', { webhookId: deliveryId, entityId: entity._id, executions });
    return reply(202, { status: 'accepted', executions });
  } catch (error) {
    // Not lost: forget the delivery so epilot's retry (it retries 5xx) does the work again. Starts are idempotent.
    logger.error('Webhook processing failed; the delivery is released for a retry', {
      webhookId: deliveryId,
      error: describeError(error),
    });
    try {
      await deps.deliveries.release(deliveryId, claim.token);
    } catch (releaseError) {
      logger.error('Could not release the webhook delivery', { webhookId: deliveryId, error: describeError(releaseError) });
    }
    return reply(500, { status: 'error', message: 'processing failed; retry the delivery' });
  }
}

const functionUrlEventSchema = z.looseObject({
  requestContext: z.looseObject({ http: z.looseObject({ method: z.string() }).optional() }).optional(),
  headers: z.record(z.string(), z.string().optional()).optional(),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().optional(),
});

/** Function URL / HTTP API (payload v2) events: `body`, `isBase64Encoded`, lower-cased `headers`. */
export function createWebhookHandler(deps: WebhookDeps) {
  return async (input: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    // Read as an outside payload: an invocation that is not a Function URL event is answered, not crashed on.
    const parsed = functionUrlEventSchema.safeParse(input);
    if (!parsed.success)
      return {
        statusCode: 400,
        headers: { 'content-type': 'application/json' },
        body: reply(400, { status: 'rejected', message: 'not an HTTP request' }).body,
      };
    const event = parsed.data;
    const method = event.requestContext?.http?.method;
    const response =
      method !== undefined && method !== 'POST'
        ? reply(405, { status: 'rejected', message: 'only POST is accepted' })
        : await receiveWebhook(
            { headers: event.headers ?? {}, body: event.body ?? '', bodyIsBase64: event.isBase64Encoded === true },
            deps,
          );
    return { statusCode: response.statusCode, headers: { 'content-type': 'application/json' }, body: response.body };
  };
}

function lowerCaseHeaders(headers: Record<string, string | undefined>): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

function parseWebhookBody(json: unknown): { body: WebhookBody } | { problem: string } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { problem: 'body is not a JSON object' };
  const entity = (json as { entity?: unknown }).entity;
  if (entity === undefined || entity === null) return { problem: 'body has no entity' };
  const parsed = webhookBodySchema.safeParse(json);
  if (parsed.success) return { body: parsed.data };
  return { problem: parsed.error.issues.map((issue) => `body.${issue.path.join('.')}: ${issue.message}`).join('; ') };
}

/** The entity as sent when it carries its workflow summaries; otherwise as entity search knows it. */
async function entityWithWorkflows(
  entity: SearchedEntity,
  deps: Pick<WebhookDeps, 'entities' | 'logger'>,
): Promise<SearchedEntity | undefined> {
  if (entity.workflows) return entity;
  deps.logger.debug('Webhook entity carries no workflows; looking it up', { entityId: entity._id });
  return deps.entities.findById(entity._id);
}

export type WebhookHttpHandler = ReturnType<typeof createWebhookHandler>;
