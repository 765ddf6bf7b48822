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
  it('adds the step result for a finished run, touching no AWS service', async () => {
    const result = await handler(finished({ status: 'success' }), lambdaContext());

    expect(result.result).toEqual({ stepStatus: 'COMPLETED', automationStatus: 'success', reason: 'automation success' });
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

  it('fails with InvalidStateInputError for a malformed error object', async () => {
    const error = await rejectionOf(handler(finished({ status: 'success' }, { error: 'boom' }), lambdaContext()));

    expect(error.name).toBe(ErrorNames.invalidStateInput);
  });
});
