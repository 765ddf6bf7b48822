import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, type PutCommandInput, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ErrorNames } from '../shared/errors';
import {
  AUTOMATION_TIMEOUT_MS,
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
import type { TaskState } from '../shared/domain/task-state';
import type nock from 'nock';
import { handler } from './handler';

const aws = setUpHandlerTests();

const claimed: Partial<TaskState> = {
  entityId: 'entity-1',
  flowId: 'flow-1',
  attempt: 1,
  decision: { action: 'run', reason: 'starting a run' },
};

const startBody = {
  entity_id: 'entity-1',
  flow_id: 'flow-1',
  workflow_context: { workflow_exec_id: 'wf-1', workflow_exec_task_id: 'task-1', workflow_role: 'run_task_automation' },
};

const LIST_QUERY = { entity_id: 'entity-1', include_flows: 'true', from: '0', size: '100' };
/** startSettleMs default: 180 s. */
const START_SETTLE_MS = 180_000;

/** The read of the step that shows it still open, then the IN_PROGRESS patch that makes the step remember its run. */
function expectStepMarkedRunning(runId: string, timeline?: string[], status = 200) {
  stepIs('PENDING');
  return epilot()
    .patch('/v1/workflows/executions/wf-1/steps/task-1', {
      status: 'IN_PROGRESS',
      automationConfig: { flowId: 'flow-1', executionId: runId },
    })
    .reply(status, () => {
      timeline?.push(`PATCH step IN_PROGRESS ${runId}`);
      return status < 300 ? { id: 'task-1', status: 'IN_PROGRESS' } : { message: 'Bad request' };
    });
}

/** Records the order of the writes and epilot calls. */
function recordTimeline() {
  const timeline: string[] = [];
  aws.ddb.on(PutCommand).callsFake((input: PutCommandInput) => {
    const item = input.Item ?? {};
    timeline.push(
      item.automationExecutionId
        ? `record run ${String(item.automationExecutionId)}`
        : item.startAttemptedAt !== undefined
          ? 'record startAttemptedAt'
          : `record ${String(item.status)}`,
    );
    return {};
  });
  return timeline;
}

function putInputs(): PutCommandInput[] {
  return aws.ddb.commandCalls(PutCommand).map((call) => call.args[0].input);
}

describe('start-automation handler', () => {
  it('notes the start attempt, then starts the run, then records the run id, then patches the step IN_PROGRESS with the run', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ version: 2 }) });
    const timeline = recordTimeline();
    expectStepMarkedRunning('run-1', timeline);
    epilot()
      .post('/v1/automation/executions', startBody)
      .reply(201, () => {
        timeline.push('POST start');
        return { id: 'run-1', execution_status: 'pending', flow_id: 'flow-1', entity_id: 'entity-1' };
      });
    const before = Date.now();

    const result = await handler(taskEvent(claimed), lambdaContext());

    expect(timeline).toEqual(['record startAttemptedAt', 'POST start', 'record run run-1', 'PATCH step IN_PROGRESS run-1']);
    const [attempt, started] = putInputs();
    expect(attempt).toMatchObject({ ExpressionAttributeValues: { ':expected': 2 }, Item: { status: 'CLAIMED', version: 3 } });
    expect(attempt?.Item?.startAttemptedAt).toBeGreaterThanOrEqual(before);
    // The claim's lease is renewed with the attempt (CLAIM_LEASE_MS default: 120 s).
    expect(attempt?.Item?.leaseUntil).toBe((attempt?.Item?.startAttemptedAt as number) + 120_000);
    expect(started).toMatchObject({
      ExpressionAttributeValues: { ':expected': 3 },
      Item: { status: 'STARTED', version: 4, automationExecutionId: 'run-1', automationStatus: 'pending', owner: EXECUTION },
    });
    expect(started?.Item?.deadline).toBe((started?.Item?.startedAt as number) + AUTOMATION_TIMEOUT_MS);
    expect(started?.Item?.startedAt).toBeGreaterThanOrEqual(before);
    expect(result.run).toEqual({
      executionId: 'run-1',
      status: 'pending',
      adopted: false,
      startedAt: new Date(started?.Item?.startedAt as number).toISOString(),
      deadline: new Date(started?.Item?.deadline as number).toISOString(),
      polls: 0,
      finished: false,
      timedOut: false,
    });
  });

  describe('with a run the claim adopted from the step', () => {
    const fromStep = (statusChangedAt: number) =>
      taskEvent({
        ...claimed,
        execution: { found: true, workflowStatus: 'STARTED', task: { id: 'task-1', status: 'PENDING', statusChangedAt } },
        run: { executionId: 'run-0', adopted: true, fromStep: true, polls: 0, finished: false, timedOut: false },
      });

    it('starts a run of this round instead of following one that ended before the step was reopened', async () => {
      const now = Date.now();
      aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ status: 'STARTED', version: 2, automationExecutionId: 'run-0' }) });
      const timeline = recordTimeline();
      epilot()
        .get('/v1/automation/executions/run-0')
        .reply(200, () => {
          timeline.push('GET run-0');
          return {
            id: 'run-0',
            execution_status: 'success',
            created_at: new Date(now - 90_000).toISOString(),
            updated_at: new Date(now - 60_000).toISOString(),
          };
        });
      epilot()
        .post('/v1/automation/executions', startBody)
        .reply(201, () => {
          timeline.push('POST start');
          return { id: 'run-1', execution_status: 'pending' };
        });
      expectStepMarkedRunning('run-1', timeline);

      const result = await handler(fromStep(now - 10_000), lambdaContext());

      expect(timeline).toEqual([
        'GET run-0',
        'record CLAIMED',
        'record startAttemptedAt',
        'POST start',
        'record run run-1',
        'PATCH step IN_PROGRESS run-1',
      ]);
      expect(putInputs()[0]?.Item).toMatchObject({ status: 'CLAIMED', earlierRunIds: ['run-0'] });
      expect(putInputs()[0]?.Item).not.toHaveProperty('automationExecutionId');
      expect(result.run).toMatchObject({ executionId: 'run-1', adopted: false });
    });

    it('follows it, writing nothing, when it is still going', async () => {
      aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ status: 'STARTED', automationExecutionId: 'run-0' }) });
      epilot().get('/v1/automation/executions/run-0').reply(200, { id: 'run-0', execution_status: 'in_progress' });

      const result = await handler(fromStep(Date.now() - 10_000), lambdaContext());

      expect(result.run).toMatchObject({ executionId: 'run-0', adopted: true });
      expect(aws.ddb.calls()).toHaveLength(0);
    });
  });

  it('adopts the run the record already holds, without starting or writing', async () => {
    const deadline = Date.now() + 3000;
    aws.ddb.on(GetCommand).resolves({
      Item: taskRecord({ status: 'STARTED', automationExecutionId: 'run-1', automationStatus: 'in_progress', deadline }),
    });

    const result = await handler(taskEvent(claimed), lambdaContext());

    expect(result.run).toMatchObject({
      executionId: 'run-1',
      status: 'in_progress',
      adopted: true,
      deadline: new Date(deadline).toISOString(),
    });
    expect(aws.ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('after an earlier start attempt, adopts the run it finds by entity_id instead of starting one', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ startAttemptedAt: Date.now() - 30_000 }) });
    const timeline = recordTimeline();
    expectStepMarkedRunning('run-lost', timeline);
    const context = (taskId: string) => ({ workflow_exec_id: 'wf-1', workflow_exec_task_id: taskId, workflow_role: 'run_task_automation' });
    epilot()
      .get('/v1/automation/executions')
      .query(LIST_QUERY)
      .reply(200, {
        total: 3,
        results: [
          { id: 'other-task', execution_status: 'in_progress', flow_id: 'flow-1', workflow_context: context('task-2') },
          { id: 'other-flow', execution_status: 'in_progress', flow_id: 'flow-2', workflow_context: context('task-1') },
          {
            id: 'run-lost',
            execution_status: 'in_progress',
            flow_id: 'flow-1',
            created_at: new Date().toISOString(),
            workflow_context: context('task-1'),
          },
        ],
      });

    const result = await handler(taskEvent(claimed), lambdaContext());

    expect(timeline).toEqual(['record run run-lost', 'PATCH step IN_PROGRESS run-lost']);
    expect(putInputs()[0]?.Item).toMatchObject({ status: 'STARTED', automationExecutionId: 'run-lost', automationStatus: 'in_progress' });
    expect(result.run).toMatchObject({ executionId: 'run-lost', status: 'in_progress', adopted: true });
  });

  it('adopts the newest matching run, not one of an earlier round of the same task', async () => {
    const now = Date.now();
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ round: 2, attempt: 2, startAttemptedAt: now - 10_000 }) });
    recordTimeline();
    expectStepMarkedRunning('round-2-run');
    const context = { workflow_exec_id: 'wf-1', workflow_exec_task_id: 'task-1', workflow_role: 'run_task_automation' };
    epilot()
      .get('/v1/automation/executions')
      .query(LIST_QUERY)
      .reply(200, {
        results: [
          // Round 1 ran 15 s before this round's attempt: within the 30 s clock-skew allowance, but not this round's run.
          {
            id: 'round-1-run',
            execution_status: 'success',
            flow_id: 'flow-1',
            created_at: new Date(now - 25_000).toISOString(),
            workflow_context: context,
          },
          {
            id: 'round-2-run',
            execution_status: 'in_progress',
            flow_id: 'flow-1',
            created_at: new Date(now - 9_000).toISOString(),
            workflow_context: context,
          },
        ],
      });

    const result = await handler(taskEvent(claimed), lambdaContext());

    expect(result.run).toMatchObject({ executionId: 'round-2-run', adopted: true });
  });

  it('within startSettleMs of an unanswered start with no run listed, throws StartOutcomeUnknownError, renews the lease and does not start', async () => {
    const startAttemptedAt = Date.now() - 30_000;
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ version: 3, startAttemptedAt }) });
    const timeline = recordTimeline();
    epilot().get('/v1/automation/executions').query(LIST_QUERY).reply(200, { total: 0, results: [] });
    const before = Date.now();

    const error = await rejectionOf(handler(taskEvent(claimed), lambdaContext()));

    expect(error.name).toBe(ErrorNames.startOutcomeUnknown);
    expect(error.name).toBe('StartOutcomeUnknownError');
    expect(timeline).toEqual(['record startAttemptedAt']);
    const [waiting] = putInputs();
    // The window counts from the attempt: startAttemptedAt stays, only the lease moves on (CLAIM_LEASE_MS 120 s).
    expect(waiting).toMatchObject({ ExpressionAttributeValues: { ':expected': 3 }, Item: { status: 'CLAIMED', startAttemptedAt } });
    expect(waiting?.Item?.leaseUntil).toBeGreaterThanOrEqual(before + 120_000);
  });

  it('does not adopt an earlier round’s run created two minutes before this round’s attempt; waits instead', async () => {
    const now = Date.now();
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ round: 2, attempt: 2, startAttemptedAt: now - 10_000 }) });
    const timeline = recordTimeline();
    epilot()
      .get('/v1/automation/executions')
      .query(LIST_QUERY)
      .reply(200, {
        results: [
          {
            id: 'round-1-run',
            execution_status: 'success',
            flow_id: 'flow-1',
            created_at: new Date(now - 130_000).toISOString(),
            workflow_context: { workflow_exec_id: 'wf-1', workflow_exec_task_id: 'task-1', workflow_role: 'run_task_automation' },
          },
        ],
      });

    const error = await rejectionOf(handler(taskEvent(claimed), lambdaContext()));

    expect(error.name).toBe(ErrorNames.startOutcomeUnknown);
    expect(timeline).toEqual(['record startAttemptedAt']);
  });

  it('does not adopt an earlier round’s run created just before this round’s attempt (a fast loop); waits instead', async () => {
    const now = Date.now();
    aws.ddb.on(GetCommand).resolves({
      Item: taskRecord({ round: 2, attempt: 2, startAttemptedAt: now - 10_000, earlierRunIds: ['round-1-run'] }),
    });
    const timeline = recordTimeline();
    epilot()
      .get('/v1/automation/executions')
      .query(LIST_QUERY)
      .reply(200, {
        results: [
          {
            id: 'round-1-run',
            execution_status: 'success',
            flow_id: 'flow-1',
            // Within the clock-skew allowance of the attempt, so only its id tells it apart.
            created_at: new Date(now - 15_000).toISOString(),
            workflow_context: { workflow_exec_id: 'wf-1', workflow_exec_task_id: 'task-1', workflow_role: 'run_task_automation' },
          },
        ],
      });

    const error = await rejectionOf(handler(taskEvent(claimed), lambdaContext()));

    expect(error.name).toBe(ErrorNames.startOutcomeUnknown);
    expect(timeline).toEqual(['record startAttemptedAt']);
  });

  it('after startSettleMs has passed since an unanswered start with no run listed, starts again', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ startAttemptedAt: Date.now() - START_SETTLE_MS - 1000 }) });
    const timeline = recordTimeline();
    epilot().get('/v1/automation/executions').query(LIST_QUERY).reply(200, { results: [] });
    epilot()
      .post('/v1/automation/executions', startBody)
      .reply(201, () => {
        timeline.push('POST start');
        return { id: 'run-2', execution_status: 'starting' };
      });
    expectStepMarkedRunning('run-2', timeline);

    const result = await handler(taskEvent(claimed), lambdaContext());

    expect(timeline).toEqual(['record startAttemptedAt', 'POST start', 'record run run-2', 'PATCH step IN_PROGRESS run-2']);
    expect(result.run).toMatchObject({ executionId: 'run-2', adopted: false });
  });

  it('reads every page of the run list and adopts a matching run on page 2 despite an unreadable run on page 1', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ startAttemptedAt: Date.now() - 30_000 }) });
    const timeline = recordTimeline();
    const context = { workflow_exec_id: 'wf-1', workflow_exec_task_id: 'task-1', workflow_role: 'run_task_automation' };
    const unrelated = Array.from({ length: 99 }, (_, i) => ({ id: `other-${i}`, execution_status: 'success', flow_id: 'flow-9' }));
    epilot()
      .get('/v1/automation/executions')
      .query(LIST_QUERY)
      .reply(200, { total: 101, results: [{ id: 'odd-run', flow_id: 'flow-9' }, ...unrelated] });
    epilot()
      .get('/v1/automation/executions')
      .query({ ...LIST_QUERY, from: '100' })
      .reply(200, {
        total: 101,
        results: [
          {
            id: 'run-late',
            execution_status: 'pending',
            flow_id: 'flow-1',
            created_at: new Date().toISOString(),
            workflow_context: context,
          },
        ],
      });
    expectStepMarkedRunning('run-late', timeline);

    const result = await handler(taskEvent(claimed), lambdaContext());

    expect(timeline).toEqual(['record run run-late', 'PATCH step IN_PROGRESS run-late']);
    expect(result.run).toMatchObject({ executionId: 'run-late', adopted: true });
  });

  it('throws StartOutcomeUnknownError, not a step-failing InvalidEpilotDataError, when the run list itself is unusable', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ startAttemptedAt: Date.now() - 30_000 }) });
    const timeline = recordTimeline();
    epilot().get('/v1/automation/executions').query(LIST_QUERY).reply(200, { results: 'not a list' });

    const error = await rejectionOf(handler(taskEvent(claimed), lambdaContext()));

    expect(error.name).toBe(ErrorNames.startOutcomeUnknown);
    expect(error.message).toContain('run list is unusable');
    expect(timeline).toEqual([]);
  });

  it('does not note the run on a step a person finalized since Find task read it, and carries their decision', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord() });
    const timeline = recordTimeline();
    epilot().post('/v1/automation/executions', startBody).reply(201, { id: 'run-1', execution_status: 'pending' });
    stepIs('COMPLETED', { statusLastUpdated: '2026-12-04T10:00:00.000Z' }, timeline);

    const result = await handler(taskEvent(claimed), lambdaContext());

    // No PATCH was expected: strict nock fails the test if the IN_PROGRESS note went out.
    expect(timeline).toEqual(['record startAttemptedAt', 'record run run-1', 'GET step COMPLETED']);
    expect(result.stepFinalizedElsewhere).toEqual({ status: 'COMPLETED', changedAt: '2026-12-04T10:00:00.000Z' });
    expect(result.run).toMatchObject({ executionId: 'run-1', adopted: false });
  });

  it('does not note the run on the step when the read before the note fails, and goes on with the run', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord() });
    const timeline = recordTimeline();
    epilot().post('/v1/automation/executions', startBody).reply(201, { id: 'run-1', execution_status: 'pending' });
    epilot().get('/v1/workflows/executions/wf-1').times(3).reply(503, { message: 'Service Unavailable' });

    const result = await handler(taskEvent(claimed), lambdaContext());

    // No PATCH was expected: strict nock fails the test if the IN_PROGRESS note went out.
    expect(timeline).toEqual(['record startAttemptedAt', 'record run run-1']);
    expect(result.stepFinalizedElsewhere).toBeUndefined();
    expect(result.run).toMatchObject({ executionId: 'run-1', adopted: false });
  });

  it('carries epilot’s stamp of the IN_PROGRESS note in the run (stepNotedAt), so later reads older than it count as stale', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord() });
    recordTimeline();
    epilot().post('/v1/automation/executions', startBody).reply(201, { id: 'run-1', execution_status: 'pending' });
    stepIs('PENDING');
    epilot()
      .patch('/v1/workflows/executions/wf-1/steps/task-1')
      .reply(200, { id: 'task-1', status: 'IN_PROGRESS', statusLastUpdated: '2026-12-04T10:00:00.000Z' });

    const result = await handler(taskEvent(claimed), lambdaContext());

    expect(result.run).toMatchObject({ executionId: 'run-1', stepNotedAt: '2026-12-04T10:00:00.000Z' });
  });

  it('keeps the recorded run and succeeds when the IN_PROGRESS step patch is refused', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord() });
    const timeline = recordTimeline();
    epilot().post('/v1/automation/executions', startBody).reply(201, { id: 'run-1', execution_status: 'pending' });
    expectStepMarkedRunning('run-1', timeline, 400);

    const result = await handler(taskEvent(claimed), lambdaContext());

    expect(timeline).toEqual(['record startAttemptedAt', 'record run run-1', 'PATCH step IN_PROGRESS run-1']);
    expect(result.run).toMatchObject({ executionId: 'run-1', adopted: false });
  });

  it('does nothing when the state already carries a run', async () => {
    const state = { ...claimed, run: { executionId: 'run-1', adopted: true, polls: 0, finished: false, timedOut: false } };

    const result = await handler(taskEvent(state), lambdaContext());

    expect(result.run?.executionId).toBe('run-1');
    expect(aws.ddb.calls()).toHaveLength(0);
  });

  it('fails with OwnershipLostError, without starting, when another execution holds the record', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord({ owner: OTHER_EXECUTION }) });

    const error = await rejectionOf(handler(taskEvent(claimed), lambdaContext()));

    expect(error.name).toBe(ErrorNames.ownershipLost);
    expect(aws.ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('fails with RecordConflictError, without starting, when the record changed under it', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord() });
    aws.ddb.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));

    const error = await rejectionOf(handler(taskEvent(claimed), lambdaContext()));

    expect(error.name).toBe(ErrorNames.recordConflict);
  });

  it.each([
    ['a 503', (scope: nock.Interceptor) => scope.reply(503, { status: 503, error: 'Service Unavailable' })],
    ['a 201 with an empty body', (scope: nock.Interceptor) => scope.reply(201, '')],
    ['a 201 with an unusable body', (scope: nock.Interceptor) => scope.reply(201, { ok: true })],
  ])(
    'after %s from the start, throws StartOutcomeUnknownError without repeating the start, and keeps the attempt noted',
    async (_, answer) => {
      aws.ddb.on(GetCommand).resolves({ Item: taskRecord() });
      const timeline = recordTimeline();
      answer(epilot().post('/v1/automation/executions').once());

      const error = await rejectionOf(handler(taskEvent(claimed), lambdaContext()));

      expect(error.name).toBe(ErrorNames.startOutcomeUnknown);
      expect(error.message).toContain('startExecution');
      expect(timeline).toEqual(['record startAttemptedAt']);
    },
  );

  it('fails with EpilotPermanentError when epilot refuses the start', async () => {
    aws.ddb.on(GetCommand).resolves({ Item: taskRecord() });
    recordTimeline();
    epilot().post('/v1/automation/executions').reply(400, { status: 400, error: 'flow is disabled' });

    const error = await rejectionOf(handler(taskEvent(claimed), lambdaContext()));

    expect(error.name).toBe(ErrorNames.epilotPermanent);
    expect(error.message).toContain('flow is disabled');
  });
});
