import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { ErrorNames } from '../shared/errors';
import { epilot, lambdaContext, rejectionOf, setUpHandlerTests, TOKEN_SECRET_NAME, taskEvent } from '../../test/support/handler-test-kit';
import { handler } from './handler';

const aws = setUpHandlerTests();

describe('fetch-execution handler', () => {
  // First in this file on purpose: the container has not read the token yet.
  it('reads the token from Secrets Manager once per container', async () => {
    epilot().get('/v1/workflows/executions/wf-1').twice().reply(200, '');

    await handler(taskEvent(), lambdaContext());
    await handler(taskEvent(), lambdaContext());

    expect(aws.secrets.commandCalls(GetSecretValueCommand, { SecretId: TOKEN_SECRET_NAME })).toHaveLength(1);
  });

  it('reads the execution with the token from Secrets Manager and keeps only the task', async () => {
    epilot()
      .get('/v1/workflows/executions/wf-1')
      .reply(200, {
        id: 'wf-1',
        status: 'STARTED',
        contexts: [{ id: 'entity-1', schema: 'opportunity' }],
        flow: [
          { id: 'task-0', type: 'STEP', status: 'COMPLETED', executionType: 'MANUAL', assignedTo: ['someone'] },
          {
            id: 'section-1',
            type: 'SECTION',
            steps: [
              {
                id: 'task-1',
                type: 'STEP',
                name: 'Clean Energy',
                status: 'PENDING',
                executionType: 'AUTOMATION',
                automationConfig: { flowId: 'flow-1' },
                description: 'x'.repeat(10_000),
              },
            ],
          },
        ],
      });

    const result = await handler(taskEvent({ entityId: 'entity-1' }), lambdaContext());

    expect(result).toEqual({
      workflowExecutionId: 'wf-1',
      taskId: 'task-1',
      trigger: 'sweep',
      entityId: 'entity-1',
      execution: {
        found: true,
        workflowStatus: 'STARTED',
        entityId: 'entity-1',
        task: { id: 'task-1', name: 'Clean Energy', status: 'PENDING', executionType: 'AUTOMATION', flowId: 'flow-1' },
      },
    });
    // The state data stays small: nothing of the rest of the execution is carried along.
    expect(JSON.stringify(result).length).toBeLessThan(1000);
  });

  it('reports found: false when epilot answers 200 with an empty body', async () => {
    epilot().get('/v1/workflows/executions/wf-1').reply(200, '');

    const result = await handler(taskEvent(), lambdaContext());

    expect(result.execution).toEqual({ found: false });
  });

  it('fails with InvalidStateInputError for input without a task id', async () => {
    const error = await rejectionOf(handler({ state: { workflowExecutionId: 'wf-1' }, execution: 'arn:x' }, lambdaContext()));

    expect(error.name).toBe(ErrorNames.invalidStateInput);
    expect(error.message).toContain('state.taskId');
  });

  it('fails with EpilotAuthError (retried by the state with backoff) when epilot refuses the token on every attempt', async () => {
    epilot().get('/v1/workflows/executions/wf-1').times(3).reply(403, { message: 'Forbidden' });

    const error = await rejectionOf(handler(taskEvent(), lambdaContext()));

    expect(error.name).toBe(ErrorNames.epilotAuth);
    expect(error.message).toContain('getExecution');
  });
});
