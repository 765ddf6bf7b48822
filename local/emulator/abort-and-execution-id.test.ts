import type { AslDefinition } from './asl';
import { runLocalExecution } from './state-machine-runner';

/** A Task state, then a long Wait, then a second Task: what an interrupted execution must never reach. */
const twoCallsApart: AslDefinition = {
  StartAt: 'First',
  States: {
    First: { Type: 'Task', Resource: 'arn:aws:lambda:eu-central-1:000000000000:function:first', Next: 'Pause' },
    Pause: { Type: 'Wait', Seconds: 600, Next: 'Second' },
    Second: { Type: 'Task', Resource: 'arn:aws:lambda:eu-central-1:000000000000:function:second', End: true },
  },
};

describe('runLocalExecution with a signal and an execution id', () => {
  it('ends ABORTED as soon as the signal aborts, during a Wait, and never calls the state after it', async () => {
    const controller = new AbortController();
    const second = jest.fn(async () => ({}));
    const started = Date.now();

    const result = await runLocalExecution({
      definition: twoCallsApart,
      input: {},
      handlers: {
        First: async () => {
          setTimeout(() => controller.abort(), 20);
          return {};
        },
        Second: second,
      },
      signal: controller.signal,
    });

    expect(result).toMatchObject({ status: 'ABORTED', error: 'States.Aborted', taskInvocations: 1 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(second).not.toHaveBeenCalled();
  });

  it('runs nothing under a signal aborted before the start', async () => {
    const controller = new AbortController();
    controller.abort();
    const first = jest.fn(async () => ({}));

    const result = await runLocalExecution({
      definition: twoCallsApart,
      input: {},
      handlers: { First: first, Second: first },
      signal: controller.signal,
    });

    expect(result.status).toBe('ABORTED');
    expect(first).not.toHaveBeenCalled();
  });

  it('hands `executionId` to the Context Object as $$.Execution.Id', async () => {
    const definition: AslDefinition = {
      StartAt: 'Call',
      States: {
        Call: {
          Type: 'Task',
          Resource: 'arn:aws:lambda:eu-central-1:000000000000:function:call',
          Parameters: { 'id.$': '$$.Execution.Id', 'name.$': '$$.Execution.Name' },
          End: true,
        },
      },
    };

    const result = await runLocalExecution({
      definition,
      name: 'run-1',
      executionId: 'local:host:1:2:3:run-1',
      input: {},
      handlers: { Call: async (payload) => payload },
    });

    expect(result.output).toEqual({ id: 'local:host:1:2:3:run-1', name: 'run-1' });
  });
});
