import { ErrorNames } from '../shared/errors';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  epilot,
  EXECUTION,
  lambdaContext,
  OTHER_EXECUTION,
  rejectionOf,
  setUpHandlerTests,
  TABLE_NAME,
  taskEvent,
  taskRecord,
} from '../../test/support/handler-test-kit';
import { handler } from './handler';

const aws = setUpHandlerTests();

const RUN_PATH = '/v1/automation/executions/run-1';

const timedOut = taskEvent({
  entityId: 'entity-1',
  flowId: 'flow-1',
  run: {
    executionId: 'run-1',
    status: 'in_progress',
    adopted: false,
    deadline: new Date(Date.now() - 1000).toISOString(),
    polls: 7,
    finished: false,
    timedOut: true,
  },
});

describe('cancel-automation handler', () => {
  const timeline: string[] = [];
  beforeEach(() => {
    timeline.length = 0;
    aws.ddb
      .on(GetCommand, { TableName: TABLE_NAME, Key: { pk: 'TASK#wf-1', sk: 'task-1' } })
      .resolves({ Item: taskRecord({ status: 'STARTED', automationExecutionId: 'run-1', version: 3 }) });
    aws.ddb.on(PutCommand).callsFake(() => {
      timeline.push('record result');
      return {};
    });
  });

  it('records the FAILED result, then cancels the run with a DELETE and notes it as cancelled', async () => {
    epilot()
      .delete(RUN_PATH)
      .reply(() => {
        timeline.push('DELETE');
        return [200, { id: 'run-1', execution_status: 'cancelled' }];
      });

    const result = await handler(timedOut, lambdaContext());

    expect(result.run).toMatchObject({ executionId: 'run-1', status: 'cancelled', timedOut: true, polls: 7 });
    expect(result.result).toEqual({
      stepStatus: 'FAILED',
      automationStatus: 'cancelled',
      reason: 'automation did not finish within 5 s; the run was cancelled',
    });
    expect(timeline).toEqual(['record result', 'DELETE']);
    const [put] = aws.ddb.commandCalls(PutCommand).map((call) => call.args[0].input);
    expect(put).toMatchObject({
      ConditionExpression: '#version = :expected',
      ExpressionAttributeValues: { ':expected': 3 },
      Item: {
        status: 'PATCHING',
        owner: EXECUTION,
        stepStatus: 'FAILED',
        automationStatus: 'cancelled',
        reason: 'automation did not finish within 5 s; the run was cancelled',
      },
    });
  });

  it('cancels nothing when another execution has taken the task over', async () => {
    aws.ddb
      .on(GetCommand, { TableName: TABLE_NAME, Key: { pk: 'TASK#wf-1', sk: 'task-1' } })
      .resolves({ Item: taskRecord({ status: 'STARTED', owner: OTHER_EXECUTION }) });

    const error = await rejectionOf(handler(timedOut, lambdaContext()));

    expect(error.name).toBe(ErrorNames.ownershipLost);
    expect(aws.ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('accepts an empty answer', async () => {
    epilot().delete(RUN_PATH).reply(204);

    const result = await handler(timedOut, lambdaContext());

    expect(result.run?.status).toBe('cancelled');
  });

  it('tolerates a 404 (the run is gone): leaves the run as it was and carries the recorded result on', async () => {
    epilot().delete(RUN_PATH).reply(404, { status: 404, error: 'Execution not found' });

    const result = await handler(timedOut, lambdaContext());

    expect(result.run).toEqual(timedOut.state.run);
    expect(result.result?.stepStatus).toBe('FAILED');
  });

  it('tolerates epilot refusing to cancel a run that already finished', async () => {
    epilot().delete(RUN_PATH).reply(409, { status: 409, error: 'Execution already finished' });

    const result = await handler(timedOut, lambdaContext());

    expect(result.run?.status).toBe('in_progress');
  });

  it('retries the DELETE after a 5xx', async () => {
    epilot().delete(RUN_PATH).reply(500, '');
    epilot().delete(RUN_PATH).reply(204);

    const result = await handler(timedOut, lambdaContext());

    expect(result.run?.status).toBe('cancelled');
  });

  it('fails with EpilotTransientError when epilot stays unavailable', async () => {
    epilot().delete(RUN_PATH).times(3).reply(503, '');

    const error = await rejectionOf(handler(timedOut, lambdaContext()));

    expect(error.name).toBe(ErrorNames.epilotTransient);
    expect(error.message).toContain('cancelExecution');
  });

  it('fails with EpilotAuthError when epilot refuses the token on every attempt (the state retries it with backoff)', async () => {
    epilot().delete(RUN_PATH).times(3).reply(401, { status: 401, error: 'Unauthorized' });

    const error = await rejectionOf(handler(timedOut, lambdaContext()));

    expect(error.name).toBe(ErrorNames.epilotAuth);
    expect(error.message).toContain('cancelExecution');
  });

  it('fails with InvalidStateInputError without a run', async () => {
    const error = await rejectionOf(handler(taskEvent({ flowId: 'flow-1' }), lambdaContext()));

    expect(error.name).toBe(ErrorNames.invalidStateInput);
  });
  it('records the status someone else set as the result, marked as theirs, then cancels the run still going', async () => {
    epilot()
      .delete(RUN_PATH)
      .reply(() => {
        timeline.push('DELETE');
        return [200, { id: 'run-1', execution_status: 'cancelled' }];
      });
    const finalizedElsewhere = taskEvent({
      entityId: 'entity-1',
      flowId: 'flow-1',
      run: { executionId: 'run-1', status: 'in_progress', adopted: false, polls: 7, finished: false, timedOut: false },
      stepFinalizedElsewhere: { status: 'SKIPPED', changedAt: '2024-05-01T12:00:00.000Z' },
    });

    const result = await handler(finalizedElsewhere, lambdaContext());

    expect(timeline).toEqual(['record result', 'DELETE']);
    const reason = 'the step was set SKIPPED by someone else at 2024-05-01T12:00:00.000Z; the run was cancelled';
    expect(aws.ddb.commandCalls(PutCommand)[0]?.args[0].input.Item).toMatchObject({
      status: 'PATCHING',
      stepStatus: 'SKIPPED',
      reason,
      resultElsewhere: true,
    });
    expect(result.result).toEqual({ stepStatus: 'SKIPPED', automationStatus: 'cancelled', reason, elsewhere: true });
  });
});
