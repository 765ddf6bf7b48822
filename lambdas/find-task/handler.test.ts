import { ErrorNames } from '../shared/errors';
import { lambdaContext, rejectionOf, setUpHandlerTests, taskEvent } from '../../test/support/handler-test-kit';
import { handler } from './handler';

const aws = setUpHandlerTests();

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

  it('keeps the entity the execution was started for', async () => {
    const result = await handler(taskEvent({ entityId: 'searched-entity', execution: pendingAutomationTask }), lambdaContext());

    expect(result.entityId).toBe('searched-entity');
  });

  it('skips a task that is already final, without any side effect', async () => {
    const execution = { ...pendingAutomationTask, task: { ...pendingAutomationTask.task, status: 'COMPLETED' } };

    const result = await handler(taskEvent({ execution }), lambdaContext());

    expect(result.decision).toEqual({ action: 'skip', reason: 'step already final (COMPLETED)' });
    expect(result.flowId).toBeUndefined();
    expect(aws.ddb.calls()).toHaveLength(0);
    expect(aws.sfn.calls()).toHaveLength(0);
  });

  it('skips an execution epilot does not know', async () => {
    const result = await handler(taskEvent({ execution: { found: false } }), lambdaContext());

    expect(result.decision).toEqual({ action: 'skip', reason: 'execution not found' });
  });

  it('fails with InvalidStateInputError for a malformed execution view', async () => {
    const error = await rejectionOf(handler(taskEvent({ execution: { found: 'yes' } as never }), lambdaContext()));

    expect(error.name).toBe(ErrorNames.invalidStateInput);
  });
});
