import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ErrorNames } from '../shared/errors';
import {
  AUTOMATION_TIMEOUT_MS,
  CLAIM_LEASE_MS,
  EXECUTION,
  lambdaContext,
  OTHER_EXECUTION,
  rejectionOf,
  setUpHandlerTests,
  TABLE_NAME,
  taskEvent,
  taskRecord,
} from '../../test/support/handler-test-kit';
import type { TaskState } from '../shared/domain/task-state';
import { handler } from './handler';

const aws = setUpHandlerTests();

const KEY = { pk: 'TASK#wf-1', sk: 'task-1' };

function dueTask(runId?: string): Partial<TaskState> {
  return {
    entityId: 'entity-1',
    flowId: 'flow-1',
    decision: { action: 'run', reason: 'automation task is due' },
    execution: {
      found: true,
      workflowStatus: 'STARTED',
      entityId: 'entity-1',
      task: { id: 'task-1', status: 'PENDING', executionType: 'AUTOMATION', flowId: 'flow-1', ...(runId ? { runId } : {}) },
    },
  };
}

function conditionFailed() {
  return new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
}

describe('claim-task handler', () => {
  it('claims a task nobody holds with a conditional put on the record’s absence, stamped with the time of the write', async () => {
    aws.ddb.on(GetCommand).resolves({});
    aws.ddb.on(PutCommand).resolves({});
    const before = Date.now();

    const result = await handler(taskEvent(dueTask()), lambdaContext());

    expect(aws.ddb.commandCalls(GetCommand)).toHaveLength(1);
    expect(aws.ddb.commandCalls(GetCommand)[0]?.args[0].input).toEqual({ TableName: TABLE_NAME, Key: KEY, ConsistentRead: true });
    const puts = aws.ddb.commandCalls(PutCommand);
    expect(puts).toHaveLength(1);
    const put = puts[0]?.args[0].input;
    expect(put?.TableName).toBe(TABLE_NAME);
    expect(put?.ConditionExpression).toBe('attribute_not_exists(pk)');
    expect(put?.Item).toMatchObject({
      ...KEY,
      // Unfinished: listed in the open-records index the sweep resumes abandoned tasks from.
      open: 'OPEN',
      workflowExecutionId: 'wf-1',
      taskId: 'task-1',
      status: 'CLAIMED',
      version: 1,
      owner: EXECUTION,
      attempt: 1,
      round: 1,
      flowId: 'flow-1',
      entityId: 'entity-1',
    });
    expect(put?.Item?.leaseUntil).toBeGreaterThanOrEqual(before + CLAIM_LEASE_MS);
    // The store stamps the time of the write.
    expect(put?.Item?.updatedAt).toBeGreaterThanOrEqual(before);
    expect(result).toMatchObject({ attempt: 1, decision: { action: 'run', reason: 'starting a run' } });
    expect(result.run).toBeUndefined();
  });

  it('adopts the run the step already shows, recording it as STARTED', async () => {
    aws.ddb.on(GetCommand).resolves({});
    aws.ddb.on(PutCommand).resolves({});
    const before = Date.now();

    const result = await handler(taskEvent(dueTask('run-from-epilot')), lambdaContext());

    expect(aws.ddb.commandCalls(PutCommand)[0]?.args[0].input.Item).toMatchObject({
      status: 'STARTED',
      automationExecutionId: 'run-from-epilot',
    });
    expect(result.decision).toEqual({ action: 'run', reason: 'adopting the run already started' });
    expect(result.run).toMatchObject({ executionId: 'run-from-epilot', adopted: true, polls: 0, finished: false, timedOut: false });
    expect(Date.parse(result.run?.deadline ?? '')).toBeGreaterThanOrEqual(before + AUTOMATION_TIMEOUT_MS);
  });

  describe('with a DONE record of a round this runner patched', () => {
    const patchedAt = Date.now() - 60_000;
    const done = () =>
      taskRecord({
        status: 'DONE',
        version: 4,
        automationExecutionId: 'run-1',
        automationStatus: 'success',
        stepStatus: 'COMPLETED',
        reason: 'automation success',
        finishedAt: patchedAt,
        patchedAt,
      });
    const reopenedAt = (statusChangedAt: number): Partial<TaskState> => {
      const due = dueTask('run-1');
      return { ...due, execution: { found: true, workflowStatus: 'STARTED', task: { ...due.execution!.task!, statusChangedAt } } };
    };

    it('starts a new round, without adopting the old run id the step still shows, when the step was reopened after the patch', async () => {
      aws.ddb.on(GetCommand).resolves({ Item: done() });
      aws.ddb.on(PutCommand).resolves({});

      const result = await handler(taskEvent(reopenedAt(patchedAt + 30_000)), lambdaContext());

      expect(result.decision).toEqual({ action: 'run', reason: 'starting a run' });
      expect(result.run).toBeUndefined();
      expect(aws.ddb.commandCalls(PutCommand)[0]?.args[0].input.Item).toMatchObject({
        status: 'CLAIMED',
        round: 2,
        earlierRunIds: ['run-1'],
      });
    });

    it('routes to the patch of the recorded result when the step has not changed since the patch (it did not stick)', async () => {
      aws.ddb.on(GetCommand).resolves({ Item: done() });
      aws.ddb.on(PutCommand).resolves({});

      const result = await handler(taskEvent(reopenedAt(patchedAt - 120_000)), lambdaContext());

      expect(result.decision?.action).toBe('patch');
      expect(result.result).toEqual({ stepStatus: 'COMPLETED', automationStatus: 'success', reason: 'automation success' });
      expect(aws.ddb.commandCalls(PutCommand)[0]?.args[0].input.Item).toMatchObject({ status: 'PATCHING', round: 1 });
    });
  });

  it('skips a task another execution holds a live lease on, without writing', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ owner: OTHER_EXECUTION, leaseUntil: Date.now() + 60_000 }) });

    const result = await handler(taskEvent(dueTask()), lambdaContext());

    expect(result.decision?.action).toBe('skip');
    expect(result.decision?.reason).toMatch(/^busy: .*wf-1-task-1-0/);
    expect(aws.ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('fails with RecordConflictError after losing the race for the record, leaving the re-read to the state’s retry', async () => {
    aws.ddb.on(GetCommand).resolves({});
    aws.ddb.on(PutCommand).rejects(conditionFailed());

    const error = await rejectionOf(handler(taskEvent(dueTask()), lambdaContext()));

    expect(error.name).toBe(ErrorNames.recordConflict);
    expect(aws.ddb.commandCalls(GetCommand)).toHaveLength(1);
    expect(aws.ddb.commandCalls(PutCommand)).toHaveLength(1);
  });

  it('takes over an expired lease with a put conditional on the version it read', async () => {
    const abandoned = taskRecord({
      owner: OTHER_EXECUTION,
      leaseUntil: Date.now() - 1,
      version: 4,
      attempt: 1,
      startAttemptedAt: Date.now() - 200_000,
    });
    aws.ddb.on(GetCommand).resolves({ Item: abandoned });
    aws.ddb.on(PutCommand).resolves({});

    const result = await handler(taskEvent({ ...dueTask(), attempt: 2 }), lambdaContext());

    const put = aws.ddb.commandCalls(PutCommand)[0]?.args[0].input;
    expect(put).toMatchObject({
      ConditionExpression: '#version = :expected',
      ExpressionAttributeNames: { '#version': 'version' },
      ExpressionAttributeValues: { ':expected': 4 },
      Item: { version: 5, owner: EXECUTION, attempt: 2, status: 'CLAIMED', startAttemptedAt: abandoned.startAttemptedAt },
    });
    expect(result).toMatchObject({ attempt: 2, decision: { action: 'run' } });
  });

  it('routes a record left in PATCHING to the patch, with the recorded result', async () => {
    aws.ddb.on(GetCommand).resolves({
      Item: taskRecord({
        owner: OTHER_EXECUTION,
        leaseUntil: Date.now() - 1,
        status: 'PATCHING',
        automationExecutionId: 'run-1',
        automationStatus: 'success',
        stepStatus: 'COMPLETED',
        reason: 'automation success',
      }),
    });
    aws.ddb.on(PutCommand).resolves({});

    const result = await handler(taskEvent(dueTask()), lambdaContext());

    expect(result.decision?.action).toBe('patch');
    expect(result.result).toEqual({ stepStatus: 'COMPLETED', automationStatus: 'success', reason: 'automation success' });
    expect(result.run?.executionId).toBe('run-1');
  });

  it('passes a task Find task skipped straight through, only looking for a record to close', async () => {
    aws.ddb.on(GetCommand, { TableName: TABLE_NAME, Key: KEY }).resolves({});
    const state = taskEvent({ decision: { action: 'skip', reason: 'execution not found' }, execution: { found: false } });

    const result = await handler(state, lambdaContext());

    expect(result.decision).toEqual({ action: 'skip', reason: 'execution not found' });
    expect(aws.ddb.commandCalls(GetCommand)).toHaveLength(1);
    expect(aws.ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('closes a record a dead execution left behind when the task needs no run any more', async () => {
    aws.ddb
      .on(GetCommand, { TableName: TABLE_NAME, Key: KEY })
      .resolves({ Item: taskRecord({ status: 'PATCHING', owner: OTHER_EXECUTION, leaseUntil: Date.now() - 1, version: 4 }) });
    aws.ddb.on(PutCommand).resolves({});
    const finalStep = { found: true, workflowStatus: 'STARTED', task: { id: 'task-1', status: 'COMPLETED', executionType: 'AUTOMATION' } };

    const result = await handler(
      taskEvent({ decision: { action: 'skip', reason: 'step already final (COMPLETED)' }, execution: finalStep }),
      lambdaContext(),
    );

    expect(result.decision).toMatchObject({ action: 'skip' });
    const [put] = aws.ddb.commandCalls(PutCommand).map((call) => call.args[0].input);
    expect(put).toMatchObject({
      ConditionExpression: '#version = :expected',
      ExpressionAttributeValues: { ':expected': 4 },
      Item: { status: 'DONE', stepStatus: 'COMPLETED', owner: EXECUTION, reason: 'closed without a patch: step already final (COMPLETED)' },
    });
    expect(put?.Item).not.toHaveProperty('open');
  });

  it('leaves a record a live execution holds alone, even when this one skips', async () => {
    aws.ddb
      .on(GetCommand, { TableName: TABLE_NAME, Key: KEY })
      .resolves({ Item: taskRecord({ status: 'STARTED', owner: OTHER_EXECUTION, leaseUntil: Date.now() + 60_000 }) });
    const finalStep = { found: true, workflowStatus: 'STARTED', task: { id: 'task-1', status: 'COMPLETED', executionType: 'AUTOMATION' } };

    await handler(
      taskEvent({ decision: { action: 'skip', reason: 'step already final (COMPLETED)' }, execution: finalStep }),
      lambdaContext(),
    );

    expect(aws.ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('fails with InvalidStateInputError when a task to run has no flowId', async () => {
    const error = await rejectionOf(handler(taskEvent({ ...dueTask(), flowId: undefined }), lambdaContext()));

    expect(error.name).toBe(ErrorNames.invalidStateInput);
    expect(error.message).toContain('flowId');
  });

  it('lets a DynamoDB failure through unchanged', async () => {
    aws.ddb.on(GetCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' }));

    const error = await rejectionOf(handler(taskEvent(dueTask()), lambdaContext()));

    expect(error.name).toBe('ProvisionedThroughputExceededException');
  });
});
