import { randomBytes } from 'node:crypto';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '../../local/emulator/embedded-dynamodb';
import { systemClock } from '../shared/clock';
import { EpilotAuthError } from '../shared/errors';
import { DELIVERY_PROCESSING_LEASE_SECONDS, DeliveryRecords, deliveryRecordKey } from '../shared/records/delivery-records';
import type { SearchedEntity } from '../shared/epilot/entity-api';
import { createLogger } from '../shared/logger';
import { TaskRecords } from '../shared/records/task-records';
import type { TaskInput } from '../shared/domain/task-state';
import { capturingLogger, logLines } from '../../test/support/capturing-logger';
import { newWebhookSecret, signedDelivery } from '../../local/cli/signed-delivery';
import { MAX_WEBHOOK_BODY_BYTES, receiveWebhook, type WebhookDeps, type WebhookRequest } from './webhook';

const SECRET = newWebhookSecret();
const TABLE = 'records';

let db: EmbeddedDynamoDb;

beforeAll(async () => {
  db = await startEmbeddedDynamoDb({
    template: {
      Resources: {
        Records: {
          Type: 'AWS::DynamoDB::Table',
          Properties: {
            TableName: TABLE,
            KeySchema: [
              { AttributeName: 'pk', KeyType: 'HASH' },
              { AttributeName: 'sk', KeyType: 'RANGE' },
            ],
            AttributeDefinitions: [
              { AttributeName: 'pk', AttributeType: 'S' },
              { AttributeName: 'sk', AttributeType: 'S' },
            ],
            BillingMode: 'PAY_PER_REQUEST',
          },
        },
      },
    },
  });
});
afterAll(async () => {
  await db.stop();
});

function entityWithAutomationTask(entityId: string, workflowExecutionId: string, taskId: string) {
  const summary = { id: workflowExecutionId, status: 'STARTED', task_id: taskId, task_execution_type: 'AUTOMATION' };
  return { _id: entityId, _schema: 'opportunity', workflows: { def1: [summary], primary: summary } };
}

function payload(entity: unknown, extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    metadata: { organization_id: '123', webhook_id: 'wh-1', automation_name: 'Run tasks', creation_timestamp: '2024-05-01T00:00:00Z' },
    entity,
    relations: [],
    ...extra,
  });
}

/** Headers in Title-Case on purpose: receiveWebhook must read them whatever their case (a Function URL lowercases them, other callers need not). */
function signed(body: string, options: { id?: string; at?: Date; secret?: string } = {}): WebhookRequest {
  const delivery = signedDelivery(body, { ...options, secret: options.secret ?? SECRET });
  const titleCase = (name: string) => name.replace(/(^|-)[a-z]/g, (letter) => letter.toUpperCase());
  return { headers: Object.fromEntries(Object.entries(delivery.headers).map(([name, value]) => [titleCase(name), value])), body };
}

interface Harness {
  deps: WebhookDeps;
  starts: Array<{ name: string; input: TaskInput }>;
  lookups: string[];
  logged: string[];
}

function harness(options: { lookup?: Record<string, SearchedEntity>; failStart?: boolean } = {}): Harness {
  const starts: Harness['starts'] = [];
  const lookups: string[] = [];
  const logged: string[] = [];
  const used = new Set<string>();
  const logger = createLogger({ logLevel: 'SILENT' });
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    jest.spyOn(logger, level).mockImplementation((...args: unknown[]) => {
      logged.push(JSON.stringify(args));
    });
  }
  let failures = options.failStart ? 1 : 0;
  const deps: WebhookDeps = {
    secret: async () => SECRET,
    deliveries: new DeliveryRecords(db.client, TABLE),
    records: new TaskRecords(db.client, TABLE, systemClock),
    entities: {
      findById: async (id) => {
        lookups.push(id);
        return options.lookup?.[id];
      },
    },
    starter: {
      startExecution: async (name, input) => {
        if (failures > 0) {
          failures -= 1;
          throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
        }
        if (used.has(name)) return 'running';
        used.add(name);
        starts.push({ name, input });
        return 'started';
      },
    },
    clock: systemClock,
    logger,
  };
  return { deps, starts, lookups, logged };
}

const unique = () => randomBytes(4).toString('hex');

describe('receiveWebhook', () => {
  it('answers 202 and starts the task execution for a validly signed delivery', async () => {
    const h = harness();
    const wf = `wf${unique()}`;
    const request = signed(payload(entityWithAutomationTask('e1', wf, 'task1')));

    const response = await receiveWebhook(request, h.deps);

    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body)).toEqual({ status: 'accepted', executions: [{ name: `${wf}-task1-1`, outcome: 'started' }] });
    expect(h.starts).toEqual([
      { name: `${wf}-task1-1`, input: { workflowExecutionId: wf, taskId: 'task1', entityId: 'e1', trigger: 'webhook', attempt: 1 } },
    ]);
    const all = h.logged.join('\n');
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(String(request.headers['Webhook-Signature']).slice(3));
  });

  it('accepts a base64-encoded body (as a Function URL may deliver it)', async () => {
    const h = harness();
    const body = payload(entityWithAutomationTask('e1', `wf${unique()}`, 'task1'));
    const request = signed(body);

    const response = await receiveWebhook({ ...request, body: Buffer.from(body).toString('base64'), bodyIsBase64: true }, h.deps);

    expect(response.statusCode).toBe(202);
    expect(h.starts).toHaveLength(1);
  });

  it.each([
    ['a wrong signature', (body: string) => signed(body, { secret: newWebhookSecret() })],
    ['no signature headers', (body: string) => ({ headers: { 'content-type': 'application/json' }, body })],
    ['a signature over another body', (body: string) => ({ ...signed(`${body} `), body })],
    ['a stale timestamp', (body: string) => signed(body, { at: new Date(Date.now() - 6 * 60_000) })],
    ['a timestamp from the future', (body: string) => signed(body, { at: new Date(Date.now() + 6 * 60_000) })],
  ])('answers 401 and starts nothing for %s', async (_case, request) => {
    const h = harness();
    const body = payload(entityWithAutomationTask('e1', `wf${unique()}`, 'task1'));

    const response = await receiveWebhook(request(body), h.deps);

    expect(response.statusCode).toBe(401);
    expect(h.starts).toEqual([]);
    expect(h.logged.join('\n')).not.toContain(SECRET);
  });

  it('answers a replayed delivery with 200 duplicate and starts nothing again', async () => {
    const h = harness();
    const request = signed(payload(entityWithAutomationTask('e1', `wf${unique()}`, 'task1')));

    const first = await receiveWebhook(request, h.deps);
    const second = await receiveWebhook(request, h.deps);

    expect(first.statusCode).toBe(202);
    expect(second.statusCode).toBe(200);
    expect(JSON.parse(second.body)).toMatchObject({ status: 'duplicate' });
    expect(h.starts).toHaveLength(1);
  });

  it('starts once for 20 concurrent copies of one delivery', async () => {
    const h = harness();
    const request = signed(payload(entityWithAutomationTask('e1', `wf${unique()}`, 'task1')));

    const responses = await Promise.all(Array.from({ length: 20 }, () => receiveWebhook(request, h.deps)));

    expect(responses.filter((response) => response.statusCode === 202)).toHaveLength(1);
    // The others arrive while the first holds the processing lease (429: retry later) or after it finished (duplicate).
    expect(responses.filter((response) => response.statusCode === 429 || response.statusCode === 200)).toHaveLength(19);
    expect(h.starts).toHaveLength(1);
  });

  it('processes a retry whose first receiver died after claiming the delivery, once the processing lease ran out', async () => {
    const h = harness();
    const id = `msg_${unique()}`;
    const wf = `wf${unique()}`;
    const request = signed(payload(entityWithAutomationTask('e1', wf, 'task1')), { id });
    const deliveries = new DeliveryRecords(db.client, TABLE);
    // The first receiver claimed the delivery and was killed before starting anything (no catch, no release).
    const diedAt = Date.now() - (DELIVERY_PROCESSING_LEASE_SECONDS + 1) * 1000;
    expect((await deliveries.claim(id, diedAt)).claimed).toBe(true);

    const retried = await receiveWebhook(request, h.deps);

    expect(retried.statusCode).toBe(202);
    expect(h.starts.map((start) => start.name)).toEqual([`${wf}-task1-1`]);
  });

  it('answers 429 in progress (retryable for epilot) to a retry that arrives while another receiver holds the delivery', async () => {
    const h = harness();
    const id = `msg_${unique()}`;
    const request = signed(payload(entityWithAutomationTask('e1', `wf${unique()}`, 'task1')), { id });
    const deliveries = new DeliveryRecords(db.client, TABLE);
    expect((await deliveries.claim(id, Date.now())).claimed).toBe(true);

    const retried = await receiveWebhook(request, h.deps);

    expect(retried.statusCode).toBe(429);
    expect(JSON.parse(retried.body)).toMatchObject({ status: 'in progress', webhookId: id });
    expect(h.starts).toEqual([]);
  });

  it('answers 200 duplicate to a delivery that was completed, even after its processing lease would have run out', async () => {
    const h = harness();
    const id = `msg_${unique()}`;
    const request = signed(payload(entityWithAutomationTask('e1', `wf${unique()}`, 'task1')), { id });
    const deliveries = new DeliveryRecords(db.client, TABLE);
    const at = Date.now() - (DELIVERY_PROCESSING_LEASE_SECONDS + 1) * 1000;
    const claim = await deliveries.claim(id, at);
    if (!claim.claimed) throw new Error('expected the claim to win');
    await deliveries.complete(id, claim.token, at);

    const replayed = await receiveWebhook(request, h.deps);

    expect(replayed.statusCode).toBe(200);
    expect(JSON.parse(replayed.body)).toMatchObject({ status: 'duplicate', webhookId: id });
    expect(h.starts).toEqual([]);
  });

  it('processes a delivery id again once its record has expired', async () => {
    const h = harness();
    const id = `msg_${unique()}`;
    const request = signed(payload(entityWithAutomationTask('e1', `wf${unique()}`, 'task1')), { id });
    const deliveries = new DeliveryRecords(db.client, TABLE);

    expect((await deliveries.claim(id, Date.now() - 25 * 60 * 60_000)).claimed).toBe(true);
    const response = await receiveWebhook(request, h.deps);

    expect(response.statusCode).toBe(202);
    expect(deliveryRecordKey(id)).toEqual({ pk: `DELIVERY#${id}`, sk: 'delivery' });
  });

  it('answers 500 when a start fails and processes epilot’s retry of the same delivery', async () => {
    const h = harness({ failStart: true });
    const request = signed(payload(entityWithAutomationTask('e1', `wf${unique()}`, 'task1')));

    const failed = await receiveWebhook(request, h.deps);
    const retried = await receiveWebhook(request, h.deps);

    expect(failed.statusCode).toBe(500);
    expect(retried.statusCode).toBe(202);
    expect(h.starts).toHaveLength(1);
  });

  it('answers 500 when epilot refuses the token on the entity lookup (401), and processes epilot’s retry once the token works', async () => {
    const wf = `wf${unique()}`;
    const h = harness({ lookup: { e8: entityWithAutomationTask('e8', wf, 'task8') } });
    let refusals = 1;
    const entities: WebhookDeps['entities'] = {
      findById: async (id) => {
        if (refusals-- > 0) throw new EpilotAuthError('searchEntities (POST /v1/entity:search) answered 401: Unauthorized', 401);
        return h.deps.entities.findById(id);
      },
    };
    const request = signed(payload({ _id: 'e8', _schema: 'opportunity', _title: 'Deal' }));

    const refused = await receiveWebhook(request, { ...h.deps, entities });
    const retried = await receiveWebhook(request, { ...h.deps, entities });

    expect(refused.statusCode).toBe(500);
    expect(retried.statusCode).toBe(202);
    expect(h.starts.map((start) => start.name)).toEqual([`${wf}-task8-1`]);
  });

  it.each([
    ['malformed JSON', '{"entity": {', 400, /malformed JSON/],
    ['a body without entity', JSON.stringify({ metadata: {} }), 400, /body has no entity/],
    ['an entity without _id', JSON.stringify({ entity: { _schema: 'opportunity' } }), 400, /entity\._id/],
    ['a JSON array', '[]', 400, /not a JSON object/],
  ])('answers %s with a 400 naming the problem and starts nothing', async (_case, body, status, message) => {
    const h = harness();

    const response = await receiveWebhook(signed(body), h.deps);

    expect(response.statusCode).toBe(status);
    expect(JSON.parse(response.body).message).toMatch(message);
    expect(h.starts).toEqual([]);
  });

  it.each([
    ['a bad signature', () => signed(payload(entityWithAutomationTask('e1', 'wf1', 'task1')), { secret: newWebhookSecret() })],
    ['malformed JSON', () => signed('{"entity": {')],
    ['a body without entity', () => signed(JSON.stringify({ metadata: {} }))],
  ])('logs the refusal of %s with its reason in the printed JSON line, the same text as the answer', async (_case, request) => {
    const sink: string[] = [];
    const deps = { ...harness().deps, logger: capturingLogger(sink, { logLevel: 'DEBUG' }) };

    const response = await receiveWebhook(request(), deps);

    const refusal = logLines(sink).find((line) => String(line.message).startsWith('Webhook refused'));
    expect(refusal?.reason).toBe((JSON.parse(response.body) as { message: string }).message);
    expect(logLines(sink).map((line) => line.message)).not.toContainEqual(expect.stringContaining('reserved key'));
  });

  it('answers 413 to a body over 1 MB before verifying it', async () => {
    const h = harness();
    const secret = jest.fn(h.deps.secret);
    const body = payload(entityWithAutomationTask('e1', 'wf1', 'task1'), { padding: 'x'.repeat(MAX_WEBHOOK_BODY_BYTES) });

    const response = await receiveWebhook(signed(body), { ...h.deps, secret });

    expect(response.statusCode).toBe(413);
    expect(secret).not.toHaveBeenCalled();
    expect(h.starts).toEqual([]);
  });

  it('looks up an entity sent without workflows and runs its automation task', async () => {
    const wf = `wf${unique()}`;
    const h = harness({ lookup: { e7: entityWithAutomationTask('e7', wf, 'task7') } });

    const response = await receiveWebhook(signed(payload({ _id: 'e7', _schema: 'opportunity', _title: 'Deal' })), h.deps);

    expect(response.statusCode).toBe(202);
    expect(h.lookups).toEqual(['e7']);
    expect(h.starts.map((start) => start.name)).toEqual([`${wf}-task7-1`]);
  });

  it('answers 200 nothing to do when no automation task waits', async () => {
    const h = harness({ lookup: {} });

    const plain = await receiveWebhook(signed(payload({ _id: 'e2', workflows: {} })), h.deps);
    const unknown = await receiveWebhook(signed(payload({ _id: 'e3' })), h.deps);

    expect(plain.statusCode).toBe(200);
    expect(JSON.parse(plain.body)).toEqual({ status: 'nothing to do' });
    expect(unknown.statusCode).toBe(200);
    expect(JSON.parse(unknown.body)).toMatchObject({ status: 'nothing to do' });
    expect(h.starts).toEqual([]);
  });
});
