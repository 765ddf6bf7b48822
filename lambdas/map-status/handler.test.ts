import { ErrorNames } from '../shared/errors';
import { lambdaContext, rejectionOf, setUpHandlerTests, taskEvent } from '../../test/support/handler-test-kit';
import type { TaskRun } from '../shared/domain/task-state';
import { handler } from './handler';

const aws = setUpHandlerTests();

function finished(run: Partial<TaskRun>, extra: Record<string, unknown> = {}) {
  return taskEvent({
    entityId: 'entity-1',
    flowId: 'flow-1',
    run: { executionId: 'run-1', adopted: false, polls: 4, finished: true, timedOut: false, ...run },
    ...extra,
  });
}

describe('map-status handler', () => {
  it.each([
    ['success', 'COMPLETED'],
    ['failed', 'FAILED'],
    ['skipped', 'SKIPPED'],
    ['cancelled', 'SKIPPED'],
    ['hot', 'FAILED'],
  ])('adds the step result for a run that ended %s', async (status, stepStatus) => {
    const result = await handler(finished({ status }), lambdaContext());

    expect(result.result).toEqual({ stepStatus, automationStatus: status, reason: `automation ${status}` });
    expect(result.run?.executionId).toBe('run-1');
    expect(aws.ddb.calls()).toHaveLength(0);
    expect(aws.sfn.calls()).toHaveLength(0);
  });

  it('fails the step of a run that timed out, with the configured timeout (AUTOMATION_TIMEOUT_MS=5000)', async () => {
    const result = await handler(finished({ status: 'cancelled', finished: false, timedOut: true }), lambdaContext());

    expect(result.result).toEqual({
      stepStatus: 'FAILED',
      automationStatus: 'cancelled',
      reason: 'automation did not finish within 5 s; the run was cancelled',
    });
  });

  it('fails the step with the error a Catch put into the state', async () => {
    const event = finished({ status: 'in_progress', finished: false }, { error: { Error: 'EpilotPermanentError', Cause: 'getExecution answered 404' } });

    const result = await handler(event, lambdaContext());

    expect(result.result).toEqual({
      stepStatus: 'FAILED',
      automationStatus: 'in_progress',
      reason: 'the runner could not finish the automation: EpilotPermanentError: getExecution answered 404',
    });
  });

  it('fails the step for a status it does not know', async () => {
    const result = await handler(finished({ status: 'exploded' }), lambdaContext());

    expect(result.result).toMatchObject({ stepStatus: 'FAILED', automationStatus: 'exploded' });
  });

  it('fails with InvalidStateInputError for a malformed error object', async () => {
    const error = await rejectionOf(handler(finished({ status: 'success' }, { error: 'boom' }), lambdaContext()));

    expect(error.name).toBe(ErrorNames.invalidStateInput);
  });
});
