import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, type PutCommandInput, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ErrorNames } from '../shared/errors';
import {
  CLAIM_LEASE_MS,
  EXECUTION,
  epilot,
  lambdaContext,
  OTHER_EXECUTION,
  rejectionOf,
  setUpHandlerTests,
  stepIs,
  taskEvent,
  taskRecord,
} from '../../test/support/handler-test-kit';
import type { TaskResult } from '../shared/domain/task-state';
import { handler } from './handler';

const aws = setUpHandlerTests();

const STEP_PATH = '/v1/workflows/executions/wf-1/steps/task-1';

function withResult(result: TaskResult, runId: string | undefined = 'run-1') {
  return taskEvent({
    entityId: 'entity-1',
    flowId: 'flow-1',
    ...(runId
      ? { run: { executionId: runId, status: result.automationStatus, adopted: false, polls: 3, finished: true, timedOut: false } }
      : {}),
    result,
  });
}

const completed: TaskResult = { stepStatus: 'COMPLETED', automationStatus: 'success', reason: 'automation success' };

function recordTimeline() {
  const timeline: string[] = [];
  aws.ddb.on(PutCommand).callsFake((input: PutCommandInput) => {
    timeline.push(`record ${String(input.Item?.status)}`);
    return {};
  });
  return timeline;
}

function putInputs(): PutCommandInput[] {
  return aws.ddb.commandCalls(PutCommand).map((call) => call.args[0].input);
}

describe('patch-step handler', () => {
  it('records the result as PATCHING, patches the step, then marks the record DONE with epilot’s stamp of the patch', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ status: 'STARTED', version: 3, automationExecutionId: 'run-1' }) });
    const timeline = recordTimeline();
    stepIs('IN_PROGRESS', {}, timeline);
    epilot()
      .patch(STEP_PATH, { status: 'COMPLETED', automationConfig: { flowId: 'flow-1', executionId: 'run-1', executionStatus: 'success' } })
      .reply(200, () => {
        timeline.push('PATCH step');
        return { id: 'task-1', status: 'COMPLETED', statusLastUpdated: '2026-12-04T10:00:00.000Z' };
      });
    const before = Date.now();

    const result = await handler(withResult(completed), lambdaContext());

    expect(timeline).toEqual(['record PATCHING', 'GET step IN_PROGRESS', 'PATCH step', 'record DONE']);
    const [patching, done] = putInputs();
    expect(patching).toMatchObject({
      ExpressionAttributeValues: { ':expected': 3 },
      Item: { status: 'PATCHING', version: 4, stepStatus: 'COMPLETED', automationStatus: 'success', reason: 'automation success' },
    });
    expect(patching?.Item?.leaseUntil).toBeGreaterThanOrEqual(before + CLAIM_LEASE_MS);
    expect(done).toMatchObject({ ExpressionAttributeValues: { ':expected': 4 }, Item: { status: 'DONE', version: 5, owner: EXECUTION } });
    expect(done?.Item?.finishedAt).toBeGreaterThanOrEqual(before);
    // When the patch was answered: an open step whose status has not changed since means it did not stick.
    expect(done?.Item?.patchedAt).toBe(done?.Item?.finishedAt);
    expect(done?.Item?.stepStatusStampedAt).toBe(Date.parse('2026-12-04T10:00:00.000Z'));
    expect(result.result).toEqual(completed);
  });

  it('finishes a patch an earlier execution left in PATCHING without rewriting the result first', async () => {
    aws.ddb.on(GetCommand).resolves({
      Item: taskRecord({
        status: 'PATCHING',
        version: 6,
        automationExecutionId: 'run-1',
        stepStatus: 'FAILED',
        automationStatus: 'failed',
        reason: 'automation failed',
      }),
    });
    const timeline = recordTimeline();
    stepIs('IN_PROGRESS');
    epilot()
      .patch(STEP_PATH, { status: 'FAILED', automationConfig: { flowId: 'flow-1', executionId: 'run-1', executionStatus: 'failed' } })
      .reply(200, () => {
        timeline.push('PATCH step');
        return {};
      });

    await handler(
      withResult({ stepStatus: 'FAILED', automationStatus: 'failed', reason: 'automation failed' }, undefined),
      lambdaContext(),
    );

    expect(timeline).toEqual(['PATCH step', 'record DONE']);
    expect(putInputs()[0]).toMatchObject({ ExpressionAttributeValues: { ':expected': 6 }, Item: { status: 'DONE' } });
  });

  it('patches the result recorded before a cancel, not the cancelled run taken for a skip', async () => {
    aws.ddb.on(GetCommand).resolves({
      Item: taskRecord({
        status: 'PATCHING',
        version: 5,
        automationExecutionId: 'run-1',
        stepStatus: 'FAILED',
        automationStatus: 'cancelled',
        reason: 'automation did not finish within 300 s; the run was cancelled',
      }),
    });
    recordTimeline();
    stepIs('IN_PROGRESS');
    epilot()
      .patch(STEP_PATH, { status: 'FAILED', automationConfig: { flowId: 'flow-1', executionId: 'run-1', executionStatus: 'cancelled' } })
      .reply(200, {});

    const result = await handler(
      withResult({ stepStatus: 'SKIPPED', automationStatus: 'cancelled', reason: 'automation cancelled' }),
      lambdaContext(),
    );

    expect(result.result).toEqual({
      stepStatus: 'FAILED',
      automationStatus: 'cancelled',
      reason: 'automation did not finish within 300 s; the run was cancelled',
    });
  });

  it('does nothing for a record that is already DONE', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ status: 'DONE' }) });

    const result = await handler(withResult(completed), lambdaContext());

    expect(result.result).toEqual(completed);
    expect(aws.ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('fails with OwnershipLostError, without patching, when another execution took the task over', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ status: 'STARTED', owner: OTHER_EXECUTION }) });

    const error = await rejectionOf(handler(withResult(completed), lambdaContext()));

    expect(error.name).toBe(ErrorNames.ownershipLost);
    expect(error.message).toContain(OTHER_EXECUTION);
    expect(aws.ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('fails with OwnershipLostError when the record is gone', async () => {
    aws.ddb.on(GetCommand).resolves({});

    const error = await rejectionOf(handler(withResult(completed), lambdaContext()));

    expect(error.name).toBe(ErrorNames.ownershipLost);
  });

  it('fails with RecordConflictError, without patching, when the record changed before PATCHING was written', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ status: 'STARTED' }) });
    aws.ddb.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));

    const error = await rejectionOf(handler(withResult(completed), lambdaContext()));

    expect(error.name).toBe(ErrorNames.recordConflict);
  });

  it('leaves the record in PATCHING when epilot refuses the patch, so a later execution can finish it', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ status: 'STARTED' }) });
    const timeline = recordTimeline();
    stepIs('IN_PROGRESS');
    epilot().patch(STEP_PATH).reply(400, { message: 'Invalid status transition' });

    const error = await rejectionOf(handler(withResult(completed), lambdaContext()));

    expect(error.name).toBe(ErrorNames.epilotPermanent);
    expect(error.message).toContain('updateStep');
    expect(timeline).toEqual(['record PATCHING']);
  });

  it('decides COMPLETED for a finished successful run that carries no result, and patches it', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ status: 'STARTED', version: 3, automationExecutionId: 'run-1' }) });
    recordTimeline();
    stepIs('IN_PROGRESS');
    epilot()
      .patch(STEP_PATH, { status: 'COMPLETED', automationConfig: { flowId: 'flow-1', executionId: 'run-1', executionStatus: 'success' } })
      .reply(200, { id: 'task-1', status: 'COMPLETED' });
    const event = taskEvent({
      entityId: 'entity-1',
      flowId: 'flow-1',
      run: { executionId: 'run-1', status: 'success', adopted: false, polls: 3, finished: true, timedOut: false },
    });

    const result = await handler(event, lambdaContext());

    expect(result.result).toEqual(completed);
    expect(putInputs().map((input) => input.Item?.['status'])).toEqual(['PATCHING', 'DONE']);
  });

  it('fails the step of a run that timed out with the configured timeout (AUTOMATION_TIMEOUT_MS=5000) when no result was recorded', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ status: 'STARTED', version: 3, automationExecutionId: 'run-1' }) });
    recordTimeline();
    stepIs('IN_PROGRESS');
    const reason = 'automation did not finish within 5 s; the run was cancelled';
    epilot()
      .patch(STEP_PATH, { status: 'FAILED', automationConfig: { flowId: 'flow-1', executionId: 'run-1', executionStatus: 'cancelled' } })
      .reply(200, { id: 'task-1', status: 'FAILED' });
    const event = taskEvent({
      entityId: 'entity-1',
      flowId: 'flow-1',
      run: { executionId: 'run-1', status: 'cancelled', adopted: false, polls: 3, finished: false, timedOut: true },
    });

    const result = await handler(event, lambdaContext());

    expect(result.result).toEqual({ stepStatus: 'FAILED', automationStatus: 'cancelled', reason });
  });

  it.each(['SKIPPED', 'FAILED', 'COMPLETED'] as const)(
    'leaves a step someone else set %s as it is, and closes the record DONE naming that status and when, without a PATCH',
    async (status) => {
      aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ status: 'STARTED', version: 3, automationExecutionId: 'run-1' }) });
      const timeline = recordTimeline();
      stepIs(status, { statusLastUpdated: '2024-05-01T12:00:00.000Z' }, timeline);
      const ours: TaskResult =
        status === 'FAILED' ? completed : { stepStatus: 'FAILED', automationStatus: 'failed', reason: 'automation failed' };

      const result = await handler(withResult(ours), lambdaContext());

      // The result is recorded before the read, so only the PATCH would come between the read and the write.
      expect(timeline).toEqual(['record PATCHING', `GET step ${status}`, 'record DONE']);
      const reason = `the step was set ${status} by someone else at 2024-05-01T12:00:00.000Z`;
      expect(putInputs()[1]).toMatchObject({
        ExpressionAttributeValues: { ':expected': 4 },
        Item: { status: 'DONE', stepStatus: status, reason: `closed without a patch: ${reason}` },
      });
      expect(putInputs()[1]?.Item).not.toHaveProperty('patchedAt');
      // Their change, on epilot's clock: a reopen after it is a new round, however soon.
      expect(putInputs()[1]?.Item?.stepStatusStampedAt).toBe(Date.parse('2024-05-01T12:00:00.000Z'));
      expect(result.result).toMatchObject({ stepStatus: status, reason, elsewhere: true });
    },
  );

  it('does not patch after a read older than the run’s own IN_PROGRESS note (stale), but fails with EpilotTransientError to read again', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ status: 'STARTED', version: 3, automationExecutionId: 'run-1' }) });
    const timeline = recordTimeline();
    stepIs('PENDING', { statusLastUpdated: '2024-05-01T11:00:00.000Z' }, timeline);
    const event = withResult(completed);
    const run = { ...event.state.run, stepNotedAt: '2024-05-01T12:00:00.000Z' };

    const error = await rejectionOf(handler({ ...event, state: { ...event.state, run } }, lambdaContext()));

    // No PATCH was expected: strict nock fails the test if one went out.
    expect(error.name).toBe(ErrorNames.epilotTransient);
    expect(timeline).toEqual(['record PATCHING', 'GET step PENDING']);
  });

  it('lets a person’s SKIPPED stand over the FAILED result Cancel automation recorded for a timeout', async () => {
    aws.ddb.on(GetCommand).resolves({
      Item: taskRecord({ status: 'PATCHING', version: 5, automationExecutionId: 'run-1', stepStatus: 'FAILED', reason: 'timed out' }),
    });
    const timeline = recordTimeline();
    stepIs('SKIPPED', {}, timeline);

    const result = await handler(withResult({ stepStatus: 'FAILED', automationStatus: 'cancelled', reason: 'timed out' }), lambdaContext());

    expect(timeline).toEqual(['GET step SKIPPED', 'record DONE']);
    expect(result.result).toMatchObject({ stepStatus: 'SKIPPED', elsewhere: true });
  });

  it('closes a record holding a result someone else decided without reading or patching the step', async () => {
    aws.ddb.on(GetCommand).resolves({
      Item: taskRecord({
        status: 'PATCHING',
        stepStatus: 'SKIPPED',
        reason: 'the step was set SKIPPED by someone else',
        resultElsewhere: true,
      }),
    });
    const timeline = recordTimeline();

    const result = await handler(
      withResult({ stepStatus: 'SKIPPED', reason: 'the step was set SKIPPED by someone else', elsewhere: true }),
      lambdaContext(),
    );

    expect(timeline).toEqual(['record DONE']);
    expect(putInputs()[0]?.Item).toMatchObject({ status: 'DONE', stepStatus: 'SKIPPED' });
    expect(result.result?.elsewhere).toBe(true);
  });

  it('patches as usual when the step already shows the status it would patch (its own earlier patch, answer lost)', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ status: 'STARTED', automationExecutionId: 'run-1' }) });
    const timeline = recordTimeline();
    stepIs('COMPLETED', {}, timeline);
    epilot()
      .patch(STEP_PATH)
      .reply(200, () => {
        timeline.push('PATCH step');
        return {};
      });

    await handler(withResult(completed), lambdaContext());

    expect(timeline).toEqual(['record PATCHING', 'GET step COMPLETED', 'PATCH step', 'record DONE']);
  });

  it('fails with InvalidStateInputError, touching nothing, without a result, a run or an error', async () => {
    const error = await rejectionOf(handler(taskEvent({ flowId: 'flow-1' }), lambdaContext()));

    expect(error.name).toBe(ErrorNames.invalidStateInput);
    expect(aws.ddb.calls()).toHaveLength(0);
  });
});
