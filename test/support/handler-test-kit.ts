/**
 * Shared set-up of the Lambda handler tests (`lambdas/<state>/handler.test.ts`): AWS clients mocked with
 * aws-sdk-client-mock, epilot mocked with nock, and every call nobody expected turned into a test failure.
 * Test code only; no Lambda imports it.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import nock from 'nock';
import type { TaskRecord } from '../../lambdas/shared/records/task-records';
import { aTaskRecord } from './task-records';
import type { TaskState } from '../../lambdas/shared/domain/task-state';
import { TEST_LAMBDA_ENVIRONMENT } from './lambda-environment';

/** What the jest setup file (test/support/lambda-environment.ts) puts into the Lambda environment. */
const EPILOT_URL = TEST_LAMBDA_ENVIRONMENT.EPILOT_API_URL;
export const TABLE_NAME = TEST_LAMBDA_ENVIRONMENT.TASK_TABLE_NAME;
export const TOKEN_SECRET_NAME = TEST_LAMBDA_ENVIRONMENT.EPILOT_TOKEN_SECRET_NAME;
export const STATE_MACHINE_ARN = TEST_LAMBDA_ENVIRONMENT.TASK_STATE_MACHINE_ARN;
export const AUTOMATION_TIMEOUT_MS = Number(TEST_LAMBDA_ENVIRONMENT.AUTOMATION_TIMEOUT_MS);
/** The defaults the environment does not override. */
export const CLAIM_LEASE_MS = 120_000;
export const DONE_SETTLE_MS = 600_000;

const TOKEN = 'epilot-test-token';
export const EXECUTION = 'arn:aws:states:eu-central-1:123456789012:execution:Task:wf-1-task-1-1';
export const OTHER_EXECUTION = 'arn:aws:states:eu-central-1:123456789012:execution:Task:wf-1-task-1-0';

/**
 * Registers the hooks of a handler test file and returns the AWS mocks. Before each test every AWS call is
 * rejected unless the test stubs it (Secrets Manager answers the token); after each test all nock interceptors
 * must have been used and no request may have gone unmatched.
 */
export function setUpHandlerTests() {
  const aws = {
    ddb: mockClient(DynamoDBDocumentClient),
    secrets: mockClient(SecretsManagerClient),
    sfn: mockClient(SFNClient),
  };
  strictNock();
  beforeEach(() => {
    aws.ddb.reset();
    aws.ddb.onAnyCommand().rejects(new Error('unexpected DynamoDB call'));
    aws.sfn.reset();
    aws.sfn.onAnyCommand().rejects(new Error('unexpected Step Functions call'));
    aws.secrets.reset();
    aws.secrets.onAnyCommand().rejects(new Error('unexpected Secrets Manager call'));
    aws.secrets.on(GetSecretValueCommand, { SecretId: TOKEN_SECRET_NAME }).resolves({ SecretString: TOKEN });
  });
  afterAll(() => {
    aws.ddb.restore();
    aws.sfn.restore();
    aws.secrets.restore();
  });
  return aws;
}

/**
 * Registers the nock hooks of a test file that talks HTTP to a mocked epilot: no real network; after each test
 * every interceptor must have been used and no request may have gone unmatched.
 */
export function strictNock(): void {
  const unmatched: string[] = [];
  const onNoMatch = (request: { method?: string; path?: string; href?: string }) => {
    unmatched.push(`${request.method ?? '?'} ${request.href ?? request.path ?? '?'}`);
  };
  beforeAll(() => {
    nock.disableNetConnect();
    nock.emitter.on('no match', onNoMatch);
  });
  beforeEach(() => {
    unmatched.length = 0;
  });
  afterEach(() => {
    const pending = nock.pendingMocks();
    const done = nock.isDone();
    nock.cleanAll();
    expect({ pending, unmatched: [...unmatched] }).toEqual({ pending: [], unmatched: [] });
    expect(done).toBe(true);
  });
  afterAll(() => {
    nock.emitter.removeListener('no match', onNoMatch);
    nock.enableNetConnect();
    // Jest shares Node's http module between the test files of a worker: take this file's interceptor out again.
    nock.restore();
  });
}

/** epilot, answering only requests that carry the token from Secrets Manager. */
export function epilot(): nock.Scope {
  return nock(EPILOT_URL, { reqheaders: { authorization: `Bearer ${TOKEN}` } });
}

/**
 * epilot's answer to a fresh read of wf-1 (GET execution) showing task-1 with `status`: the read Patch step makes
 * before it patches, and the poller between windows. `timeline` notes `GET step <status>` when it is answered.
 */
export function stepIs(status: string, extra: Record<string, unknown> = {}, timeline?: string[]): nock.Scope {
  return epilot()
    .get('/v1/workflows/executions/wf-1')
    .reply(200, () => {
      timeline?.push(`GET step ${status}`);
      return {
        id: 'wf-1',
        status: 'STARTED',
        flow: [
          {
            id: 'task-1',
            name: 'Send offer',
            type: 'STEP',
            executionType: 'AUTOMATION',
            status,
            automationConfig: { flowId: 'flow-1' },
            ...extra,
          },
        ],
      };
    });
}

/** The little of a Lambda context that middy and Powertools look at. */
export function lambdaContext(functionName = 'epilot-task-runner-test'): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-central-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2024/05/01/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => 60_000,
  } as Context;
}

/** The payload Step Functions sends every task-state Lambda. */
export function taskEvent(state: Partial<TaskState> & Record<string, unknown> = {}, execution = EXECUTION) {
  return {
    state: { workflowExecutionId: 'wf-1', taskId: 'task-1', trigger: 'sweep', ...state },
    execution,
  };
}

/** A stored task record, as DynamoDB returns it. */
export function taskRecord(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return aTaskRecord({ owner: EXECUTION, leaseUntil: Date.now() + CLAIM_LEASE_MS, ...overrides });
}

/** The rejection of `promise`, to assert on its `name` (what Step Functions matches on). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-error: ${String(error)}`, { cause: error });
  }
  throw new Error('expected a rejection, but the promise resolved');
}
