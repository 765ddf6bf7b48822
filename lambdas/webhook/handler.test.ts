import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { type StartExecutionCommandInput, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { GetCommand, type PutCommandInput, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { epilot, lambdaContext, setUpHandlerTests, STATE_MACHINE_ARN, TABLE_NAME } from '../../test/support/handler-test-kit';
import { newWebhookSecret, signedDelivery } from '../../local/cli/signed-delivery';
import { handler } from './handler';

const aws = setUpHandlerTests();

const WEBHOOK_SECRET_NAME = 'epilot-task-runner/webhook-secret';
const SECRET = newWebhookSecret();

function entityWithAutomationTask(entityId: string, workflowExecutionId: string, taskId: string) {
  const summary = { id: workflowExecutionId, status: 'STARTED', task_id: taskId, task_execution_type: 'AUTOMATION' };
  return { _id: entityId, _schema: 'opportunity', workflows: { def1: [summary], primary: summary } };
}

/** A Function URL event (payload format 2.0) carrying a signed delivery. */
function functionUrlEvent(body: string, options: { id?: string; secret?: string; base64?: boolean } = {}): APIGatewayProxyEventV2 {
  const at = new Date();
  const delivery = signedDelivery(body, { secret: options.secret ?? SECRET, at, ...(options.id ? { id: options.id } : {}) });
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: delivery.headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abc',
      domainName: 'abc.lambda-url.eu-central-1.on.aws',
      domainPrefix: 'abc',
      http: { method: 'POST', path: '/', protocol: 'HTTP/1.1', sourceIp: '203.0.113.1', userAgent: 'epilot' },
      requestId: 'r1',
      routeKey: '$default',
      stage: '$default',
      time: '01/May/2024:00:00:00 +0000',
      timeEpoch: at.getTime(),
    },
    body: options.base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: options.base64 === true,
  };
}

/** DynamoDB: no task records; delivery records conditionally put, the ids in `seen` refused and read back as done. */
function givenTable(seen: string[] = []) {
  const puts: PutCommandInput[] = [];
  aws.ddb.on(GetCommand).callsFake((input: { TableName?: string; Key?: Record<string, unknown> }) => {
    expect(input.TableName).toBe(TABLE_NAME);
    const id = seen.find((candidate) => input.Key?.pk === `DELIVERY#${candidate}`);
    return id === undefined ? {} : { Item: { pk: `DELIVERY#${id}`, sk: 'delivery', status: 'done', expiresAt: 4_102_444_800 } };
  });
  aws.ddb.on(PutCommand).callsFake((input: PutCommandInput) => {
    expect(input.TableName).toBe(TABLE_NAME);
    puts.push(input);
    if (seen.some((id) => input.Item?.pk === `DELIVERY#${id}`)) {
      throw Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });
    }
    return {};
  });
  return puts;
}

function givenStepFunctions() {
  aws.sfn.on(StartExecutionCommand).callsFake((input: StartExecutionCommandInput) => ({
    executionArn: `${STATE_MACHINE_ARN.replace('stateMachine', 'execution')}:${input.name}`,
    startDate: new Date(),
  }));
}

beforeEach(() => {
  aws.secrets.on(GetSecretValueCommand, { SecretId: WEBHOOK_SECRET_NAME }).resolves({ SecretString: SECRET });
});

describe('webhook handler', () => {
  it('verifies the signature with the secret from Secrets Manager, records the delivery and starts the execution', async () => {
    const puts = givenTable();
    givenStepFunctions();
    const event = functionUrlEvent(JSON.stringify({ metadata: {}, entity: entityWithAutomationTask('e1', 'wf1', 'task1') }));

    const result = await handler(event, lambdaContext());

    expect(result).toMatchObject({ statusCode: 202, headers: { 'content-type': 'application/json' } });
    expect(JSON.parse(String(result.body))).toEqual({ status: 'accepted', executions: [{ name: 'wf1-task1-1', outcome: 'started' }] });
    const deliveryKey = { pk: `DELIVERY#${event.headers['webhook-id']}`, sk: 'delivery' };
    expect(puts).toHaveLength(2);
    expect(puts[0]).toMatchObject({
      Item: { ...deliveryKey, status: 'processing', token: expect.any(String), expiresAt: expect.any(Number) },
      ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
    });
    const claimedToken = puts[0]?.Item?.token as unknown;
    expect(puts[1]).toMatchObject({
      Item: { ...deliveryKey, status: 'done', token: claimedToken, expiresAt: expect.any(Number) },
      ConditionExpression: '#token = :token',
      ExpressionAttributeValues: { ':token': claimedToken },
    });
    // The processing lease is short (a dead receiver's retry must find it run out); done is remembered for a day.
    expect(Number(puts[1]?.Item?.expiresAt) - Number(puts[0]?.Item?.expiresAt)).toBeGreaterThan(23 * 60 * 60);
    const gets = aws.ddb.commandCalls(GetCommand).map((call) => call.args[0].input.Key);
    expect(gets).toEqual([{ pk: 'TASK#wf1', sk: 'task1' }]);
    const starts = aws.sfn.commandCalls(StartExecutionCommand).map((call) => call.args[0].input);
    expect(starts).toEqual([
      {
        stateMachineArn: STATE_MACHINE_ARN,
        name: 'wf1-task1-1',
        input: JSON.stringify({ workflowExecutionId: 'wf1', taskId: 'task1', entityId: 'e1', trigger: 'webhook', attempt: 1 }),
      },
    ]);
  });

  it('looks an entity without workflows up through entity search (base64 body)', async () => {
    givenTable();
    givenStepFunctions();
    epilot()
      .post('/v1/entity:search', (body: { q?: string }) => body.q === '_id:"e9"')
      .reply(200, { hits: 1, results: [entityWithAutomationTask('e9', 'wf9', 'task9')] });

    const result = await handler(functionUrlEvent(JSON.stringify({ entity: { _id: 'e9' } }), { base64: true }), lambdaContext());

    expect(result.statusCode).toBe(202);
    expect(aws.sfn.commandCalls(StartExecutionCommand).map((call) => call.args[0].input.name)).toEqual(['wf9-task9-1']);
  });

  it('answers 401 to a wrong signature without touching DynamoDB or Step Functions', async () => {
    const event = functionUrlEvent(JSON.stringify({ entity: entityWithAutomationTask('e1', 'wf1', 'task1') }), {
      secret: newWebhookSecret(),
    });

    const result = await handler(event, lambdaContext());

    expect(result.statusCode).toBe(401);
    expect(aws.ddb.calls()).toHaveLength(0);
    expect(aws.sfn.calls()).toHaveLength(0);
  });

  it('answers a replay with 200 duplicate and starts nothing', async () => {
    const event = functionUrlEvent(JSON.stringify({ entity: entityWithAutomationTask('e1', 'wf1', 'task1') }), { id: 'msg_seen' });
    givenTable(['msg_seen']);

    const result = await handler(event, lambdaContext());

    expect(result.statusCode).toBe(200);
    expect(JSON.parse(String(result.body))).toMatchObject({ status: 'duplicate', webhookId: 'msg_seen' });
    expect(aws.ddb.commandCalls(PutCommand)).toHaveLength(1);
    expect(aws.ddb.commandCalls(GetCommand).map((call) => call.args[0].input)).toEqual([
      { TableName: TABLE_NAME, Key: { pk: 'DELIVERY#msg_seen', sk: 'delivery' }, ConsistentRead: true },
    ]);
    expect(aws.sfn.calls()).toHaveLength(0);
  });

  it('answers 405 to anything but POST', async () => {
    const event = functionUrlEvent('{}');
    event.requestContext.http.method = 'GET';

    const result = await handler(event, lambdaContext());

    expect(result.statusCode).toBe(405);
    expect(aws.ddb.calls()).toHaveLength(0);
  });
});
