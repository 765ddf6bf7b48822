import { ErrorNames } from '../shared/errors';
import { lambdaContext, rejectionOf, setUpHandlerTests, taskEvent } from '../../test/support/handler-test-kit';
import { handler } from './handler';

setUpHandlerTests();

const pendingAutomationTask = {
  found: true,
  workflowStatus: 'STARTED',
  entityId: 'entity-of-execution',
  task: { id: 'task-1', status: 'PENDING', executionType: 'AUTOMATION', flowId: 'flow-1' },
};

describe('find-task handler', () => {
  it('decides to run a due automation task and adds flowId and entityId to the state', async () => {
    const result = await handler(taskEvent({ execution: pendingAutomationTask }), lambdaContext());

    expect(result).toMatchObject({
      decision: { action: 'run', reason: 'automation task is due' },
      flowId: 'flow-1',
      entityId: 'entity-of-execution',
      execution: pendingAutomationTask,
    });
  });

  it('fails with InvalidStateInputError for a malformed execution view', async () => {
    const error = await rejectionOf(handler(taskEvent({ execution: { found: 'yes' } as never }), lambdaContext()));

    expect(error.name).toBe(ErrorNames.invalidStateInput);
  });
});
