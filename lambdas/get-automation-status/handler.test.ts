import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { ErrorNames } from '../shared/errors';
import { epilot, lambdaContext, rejectionOf, setUpHandlerTests, stepIs, taskEvent } from '../../test/support/handler-test-kit';
import type { TaskRun } from '../shared/domain/task-state';
import { handler } from './handler';

const aws = setUpHandlerTests();

const RUN_PATH = '/v1/automation/executions/run-1';

function polling(run: Partial<TaskRun> = {}) {
  return taskEvent({
    entityId: 'entity-1',
    flowId: 'flow-1',
    run: {
      executionId: 'run-1',
      status: 'pending',
      adopted: false,
      deadline: new Date(Date.now() + 60_000).toISOString(),
      polls: 2,
      finished: false,
      timedOut: false,
      ...run,
    },
  });
}

describe('get-automation-status handler', () => {
  it('marks the run finished when epilot reports it ended, touching no record', async () => {
    epilot().get(RUN_PATH).reply(200, { id: 'run-1', execution_status: 'success' });

    const result = await handler(polling(), lambdaContext());

    expect(result.run).toMatchObject({ status: 'success', polls: 3, finished: true, timedOut: false });
    expect(aws.ddb.calls()).toHaveLength(0);
  });

  it('hands back to the Wait state while the run is still going (POLL_WINDOW_MS=0: one poll)', async () => {
    epilot().get(RUN_PATH).once().reply(200, { id: 'run-1', execution_status: 'in_progress' });
    stepIs('IN_PROGRESS');

    const result = await handler(polling(), lambdaContext());

    expect(result.run).toMatchObject({ status: 'in_progress', polls: 3, finished: false, timedOut: false });
  });

  it('times the run out once its deadline has passed', async () => {
    const deadline = new Date(Date.now() - 1).toISOString();
    epilot().get(RUN_PATH).reply(200, { id: 'run-1', execution_status: 'in_progress' });

    const result = await handler(polling({ deadline }), lambdaContext());

    expect(result.run).toMatchObject({ status: 'in_progress', deadline, finished: false, timedOut: true });
  });

  it('prefers a terminal status over a passed deadline', async () => {
    epilot().get(RUN_PATH).reply(200, { id: 'run-1', execution_status: 'success' });

    const result = await handler(polling({ deadline: new Date(Date.now() - 1).toISOString() }), lambdaContext());

    expect(result.run).toMatchObject({ status: 'success', finished: true, timedOut: false });
  });

  it('keeps polling a status it does not know', async () => {
    epilot().get(RUN_PATH).reply(200, { id: 'run-1', execution_status: 'thinking_hard' });
    stepIs('IN_PROGRESS');

    const result = await handler(polling(), lambdaContext());

    expect(result.run).toMatchObject({ status: 'thinking_hard', finished: false, timedOut: false });
  });

  it('keeps polling when epilot is briefly unavailable (transient errors after retries)', async () => {
    epilot().get(RUN_PATH).times(3).reply(503, { status: 503, error: 'Service Unavailable' });
    stepIs('IN_PROGRESS');

    const result = await handler(polling(), lambdaContext());

    expect(result.run).toMatchObject({ polls: 3, finished: false, timedOut: false });
  });

  it('past the deadline with epilot unavailable, leaves the decision to the state’s retries instead of guessing a timeout', async () => {
    epilot().get(RUN_PATH).times(3).reply(502, '');

    const error = await rejectionOf(handler(polling({ deadline: new Date(Date.now() - 1).toISOString() }), lambdaContext()));

    expect(error.name).toBe(ErrorNames.epilotTransient);
  });

  it('fails with EpilotPermanentError when epilot does not know the run', async () => {
    epilot().get(RUN_PATH).reply(404, { status: 404, error: 'Execution not found' });

    const error = await rejectionOf(handler(polling(), lambdaContext()));

    expect(error.name).toBe(ErrorNames.epilotPermanent);
    expect(error.message).toContain('getExecution');
  });

  it.each([401, 403])(
    'fails with EpilotAuthError (retried by the state, never a cancel) when epilot refuses the token with %s on every attempt',
    async (status) => {
      epilot().get(RUN_PATH).times(3).reply(status, { status, error: 'Unauthorized' });

      const error = await rejectionOf(handler(polling(), lambdaContext()));

      expect(error.name).toBe(ErrorNames.epilotAuth);
      expect(error.message).toContain('getExecution');
    },
  );

  it('after a 401 reads the token from Secrets Manager again and polls on with it (a rotated token)', async () => {
    epilot().get(RUN_PATH).reply(200, { id: 'run-1', execution_status: 'in_progress' });
    stepIs('IN_PROGRESS');
    await handler(polling(), lambdaContext());
    aws.secrets.resetHistory();
    epilot().get(RUN_PATH).reply(401, { status: 401, error: 'Unauthorized' });
    epilot().get(RUN_PATH).reply(200, { id: 'run-1', execution_status: 'success' });

    const result = await handler(polling(), lambdaContext());

    expect(result.run).toMatchObject({ status: 'success', finished: true });
    expect(aws.secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('fails with InvalidEpilotDataError when the run has no status', async () => {
    epilot().get(RUN_PATH).reply(200, { id: 'run-1' });

    const error = await rejectionOf(handler(polling(), lambdaContext()));

    expect(error.name).toBe(ErrorNames.invalidEpilotData);
  });

  it('fails with InvalidStateInputError without a run deadline', async () => {
    const error = await rejectionOf(handler(polling({ deadline: undefined }), lambdaContext()));

    expect(error.name).toBe(ErrorNames.invalidStateInput);
    expect(error.message).toContain('run.deadline');
  });
  describe('between poll windows', () => {
    it.each(['COMPLETED', 'SKIPPED', 'FAILED'] as const)(
      'hands back stepFinalizedElsewhere with the status %s and its time when someone else finalized the step while the run goes on',
      async (status) => {
        epilot().get(RUN_PATH).reply(200, { id: 'run-1', execution_status: 'in_progress' });
        stepIs(status, { statusLastUpdated: '2024-05-01T12:00:00.000Z' });

        const result = await handler(polling(), lambdaContext());

        expect(result.stepFinalizedElsewhere).toEqual({ status, changedAt: '2024-05-01T12:00:00.000Z' });
        expect(result.run).toMatchObject({ status: 'in_progress', finished: false, timedOut: false });
      },
    );

    it('ignores a read whose status is older than the run’s own IN_PROGRESS note (stale): no stepFinalizedElsewhere, polls on', async () => {
      epilot().get(RUN_PATH).reply(200, { id: 'run-1', execution_status: 'in_progress' });
      stepIs('COMPLETED', { statusLastUpdated: '2024-05-01T11:59:59.000Z' });

      const result = await handler(polling({ stepNotedAt: '2024-05-01T12:00:00.000Z' }), lambdaContext());

      expect(result.stepFinalizedElsewhere).toBeUndefined();
      expect(result.run).toMatchObject({ finished: false, stepNotedAt: '2024-05-01T12:00:00.000Z' });
    });

    it('hands back no stepFinalizedElsewhere, and polls on, when the step cannot be read (the next window reads again)', async () => {
      epilot().get(RUN_PATH).reply(200, { id: 'run-1', execution_status: 'in_progress' });
      epilot().get('/v1/workflows/executions/wf-1').times(3).reply(503, { message: 'Service Unavailable' });

      const result = await handler(polling(), lambdaContext());

      expect(result.stepFinalizedElsewhere).toBeUndefined();
      expect(result.run).toMatchObject({ finished: false, timedOut: false });
    });

    it('does not read the step when less Lambda time is left than the read with its three tries could take', async () => {
      epilot().get(RUN_PATH).reply(200, { id: 'run-1', execution_status: 'in_progress' });
      const context = { ...lambdaContext(), getRemainingTimeInMillis: () => 2_500 };

      const result = await handler(polling(), context);

      expect(result.stepFinalizedElsewhere).toBeUndefined();
      expect(result.run).toMatchObject({ status: 'in_progress', finished: false });
    });

    it('does not read the step when the run finished (Patch step reads it)', async () => {
      epilot().get(RUN_PATH).reply(200, { id: 'run-1', execution_status: 'success' });

      const result = await handler(polling(), lambdaContext());

      expect(result.stepFinalizedElsewhere).toBeUndefined();
    });
  });
});
