import type { AslDefinition } from './asl';
import { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { type LocalExecutionEvent, type LocalTaskHandler, runLocalExecution } from './state-machine-runner';
import { createLocalApp, findStateMachineDefinition, stateMachineDefinitions, synthesizeTemplate } from './synthesized-definitions';
import { SampleStack } from '../../test/support/sample-stack';

// aws-cdk-lib removes its temporary assembly directories on process exit, which jest never fires.
afterAll(() => CloudAssembly.cleanupTemporaryDirectories());

const stack = new SampleStack(createLocalApp(), 'Sample');
const sample = findStateMachineDefinition(stateMachineDefinitions(synthesizeTemplate(stack)), stack.stateMachine);

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** Handlers for every Task state of the sample: payloads are recorded, `flaky` decides what Flaky does per call. */
function sampleHandlers(flaky: (call: number) => unknown, pollsUntilDone = 1) {
  const payloads: Record<string, unknown[]> = {};
  const record =
    (state: string, respond: (payload: unknown) => unknown): LocalTaskHandler =>
    async (payload) => {
      (payloads[state] ??= []).push(payload);
      return respond(payload);
    };
  let flakyCalls = 0;
  let polls = 0;
  const handlers: Record<string, LocalTaskHandler> = {
    Start: record('Start', () => ({ delaySeconds: 3600 })),
    Audit: record('Audit', () => 'audited'),
    Item: record('Item', (payload) => ({ doubled: (payload as { item: number }).item * 2 })),
    Flaky: record('Flaky', () => flaky(++flakyCalls)),
    Poll: record('Poll', () => ({ done: ++polls >= pollsUntilDone })),
  };
  return { handlers, payloads };
}

const input = { id: 'task-1', items: [1, 2] };
// Start, Fanout, Audit, Skip, Items, Item×2, Flaky, Poll, Finished?, Done
const ENTRIES_ON_THE_DIRECT_PATH = 11;

describe('runLocalExecution with the synthesized sample', () => {
  it('gives each handler what its Lambda would get and shapes lambda:invoke results', async () => {
    const { handlers, payloads } = sampleHandlers(() => ({ ok: true }));
    const result = await runLocalExecution({ definition: sample, input, name: 'direct-path', handlers, waitMs: () => 0 });

    expect(result.status).toBe('SUCCEEDED');
    // payloadResponseOnly (Resource = function ARN): the resolved Parameters, Context Object included.
    expect(payloads['Start']).toEqual([
      {
        input,
        execution: `arn:aws:states:eu-central-1:000000000000:execution:${sample.name}:direct-path`,
        stateName: 'Start',
        machine: sample.name,
      },
    ]);
    // lambda:invoke: only Parameters.Payload reaches the function, not {FunctionName, Payload}.
    expect(payloads['Flaky']).toEqual([{ id: 'task-1', retryCount: 0 }]);
    expect(payloads['Item']).toEqual([{ item: 1 }, { item: 2 }]);
    expect(payloads['Audit']).toEqual([{ id: 'task-1' }]);
    expect(result.output).toEqual({
      ...input,
      start: { delaySeconds: 3600 },
      itemResults: [{ doubled: 2 }, { doubled: 4 }],
      // ResultSelector read $.Payload and $.StatusCode of the Invoke response.
      flaky: { value: { ok: true }, status: 200 },
      poll: { done: true },
    });
    expect(result.executionArn).toBe(`arn:aws:states:eu-central-1:000000000000:execution:${sample.name}:direct-path`);
    expect(result.stateTransitions).toBe(ENTRIES_ON_THE_DIRECT_PATH);
    expect(result.statesEntered).toEqual({
      Start: 1,
      Fanout: 1,
      Audit: 1,
      Skip: 1,
      Items: 1,
      Item: 2,
      Flaky: 1,
      Poll: 1,
      'Finished?': 1,
      Done: 1,
    });
    expect(result.taskInvocations).toBe(6);
  });

  it('retries an error by its name, with MaxDelaySeconds and FULL jitter, and counts each retry', async () => {
    const { handlers, payloads } = sampleHandlers((call) => {
      if (call <= 2) throw namedError('EpilotTransientError', `epilot answered 503 (call ${call})`);
      return 'third time lucky';
    });
    const delays: Array<[string, number, number]> = [];
    const result = await runLocalExecution({
      definition: sample,
      input,
      handlers,
      waitMs: () => 0,
      retryDelayMs: (state, attempt, defaultMs) => {
        delays.push([state, attempt, defaultMs]);
        return 0;
      },
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({ flaky: { value: 'third time lucky' } });
    expect(payloads['Flaky']?.map((p) => (p as { retryCount: number }).retryCount)).toEqual([0, 1, 2]);
    expect(delays.map(([state, attempt]) => [state, attempt])).toEqual([
      ['Flaky', 1],
      ['Flaky', 2],
    ]);
    // IntervalSeconds 2, BackoffRate 2, FULL jitter: somewhere in [0, 2 s], then [0, 4 s].
    expect(delays[0]?.[2]).toBeGreaterThanOrEqual(0);
    expect(delays[0]?.[2]).toBeLessThanOrEqual(2000);
    expect(delays[1]?.[2]).toBeLessThanOrEqual(4000);
    expect(result.stateTransitions).toBe(ENTRIES_ON_THE_DIRECT_PATH + 2);
    expect(result.statesEntered['Flaky']).toBe(1);
    expect(result.taskInvocations).toBe(8);
  });

  it('caps the retry delay at MaxDelaySeconds and fails with the error once attempts run out', async () => {
    const { handlers } = sampleHandlers(() => {
      throw namedError('EpilotTransientError', 'still down');
    });
    const defaults: number[] = [];
    const result = await runLocalExecution({
      definition: sample,
      input,
      handlers,
      retryDelayMs: (_state, _attempt, defaultMs) => {
        defaults.push(defaultMs);
        return 0;
      },
    });

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('EpilotTransientError');
    expect(JSON.parse(result.cause ?? '')).toMatchObject({ errorType: 'EpilotTransientError', errorMessage: 'still down' });
    expect(defaults).toHaveLength(3);
    // The third retry would wait 2 × 2² = 8 s; MaxDelaySeconds caps it at 5 s.
    expect(defaults[2]).toBeLessThanOrEqual(5000);
    // Start, Fanout, Audit, Skip, Items, Item×2, Flaky + 3 retries
    expect(result.stateTransitions).toBe(8 + 3);
  });

  it('catches an error by its name into ResultPath as {Error, Cause}', async () => {
    const { handlers } = sampleHandlers(() => {
      throw namedError('EpilotPermanentError', 'epilot answered 404');
    });
    const result = await runLocalExecution({ definition: sample, input, handlers, waitMs: () => 0 });

    expect(result.status).toBe('SUCCEEDED');
    const output = result.output as { error: { Error: string; Cause: string }; flaky?: unknown };
    expect(output.flaky).toBeUndefined();
    expect(Object.keys(output.error)).toEqual(['Error', 'Cause']);
    expect(output.error.Error).toBe('EpilotPermanentError');
    // Cause is a string holding the Lambda runtime's error JSON, as in AWS.
    const cause = JSON.parse(output.error.Cause) as { errorType: string; errorMessage: string; trace: string[] };
    expect(cause.errorType).toBe('EpilotPermanentError');
    expect(cause.errorMessage).toBe('epilot answered 404');
    expect(cause.trace[0]).toBe('EpilotPermanentError: epilot answered 404');
  });

  it('does not let Retry or Catch match a generic Error', async () => {
    const { handlers } = sampleHandlers(() => {
      throw new Error('EpilotTransientError in the message is not enough');
    });
    const result = await runLocalExecution({ definition: sample, input, handlers });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('Error');
    // Start, Audit, Item×2, Flaky once
    expect(result.taskInvocations).toBe(5);
  });

  it('runs a Wait loop in no time when waitMs returns 0, passing the SecondsPath value', async () => {
    const { handlers } = sampleHandlers(() => 'ok', 25);
    const waits: Array<[string, number]> = [];
    const events: LocalExecutionEvent[] = [];
    const started = Date.now();
    const result = await runLocalExecution({
      definition: sample,
      input,
      handlers,
      waitMs: (state, seconds) => {
        waits.push([state, seconds]);
        return 0;
      },
      onEvent: (event) => events.push(event),
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(waits).toHaveLength(24);
    expect(waits[0]).toEqual(['Pause', 3600]);
    expect(result.statesEntered).toMatchObject({ Poll: 25, 'Finished?': 25, Pause: 24 });
    expect(result.stateTransitions).toBe(ENTRIES_ON_THE_DIRECT_PATH + 24 * 3);
    // The Wait state is run by the runner but still reported as a Wait state, and not as a task invocation.
    expect(events.find((e) => e.type === 'StateEntered' && e.state.name === 'Pause')).toMatchObject({ state: { type: 'Wait' } });
    expect(result.taskInvocations).toBe(6 + 24);
  });

  it('scales waits: waitMs decides the real pause', async () => {
    const { handlers } = sampleHandlers(() => 'ok', 2);
    const started = Date.now();
    const result = await runLocalExecution({ definition: sample, input, handlers, waitMs: (_state, seconds) => seconds / 36 });
    expect(result.status).toBe('SUCCEEDED');
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
  });

  it('fails loudly, before running anything, when a Task state has no handler or a handler has no state', async () => {
    const { handlers } = sampleHandlers(() => 'ok');
    const called = jest.fn();
    const withoutNested = { ...handlers, Start: called } as Record<string, LocalTaskHandler>;
    delete withoutNested['Audit'];
    delete withoutNested['Item'];
    await expect(runLocalExecution({ definition: sample, input, handlers: withoutNested })).rejects.toThrow(
      'Task states without a local handler: Audit, Item',
    );
    await expect(runLocalExecution({ definition: sample, input, handlers: { ...handlers, Start: called, Typo: called, Pause: called } })).rejects.toThrow(
      'Handlers for no Task state of the definition: Typo, Pause (a Wait state)',
    );
    expect(called).not.toHaveBeenCalled();
  });

  it('rejects execution names Step Functions would reject', async () => {
    const { handlers } = sampleHandlers(() => 'ok');
    await expect(runLocalExecution({ definition: sample, input, handlers, name: 'has space' })).rejects.toThrow(/not a valid execution name/);
    await expect(runLocalExecution({ definition: sample, input, handlers, name: 'x'.repeat(81) })).rejects.toThrow(/not a valid execution name/);
  });

  it('aborts', async () => {
    const { handlers } = sampleHandlers(() => 'ok', 1000);
    const controller = new AbortController();
    const running = runLocalExecution({ definition: sample, input, handlers, abortSignal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const result = await running;
    expect(result.status).toBe('ABORTED');
    // Aborted inside the first one-hour Pause, which must not keep the process alive.
    expect(result.statesEntered['Pause']).toBe(1);
  });
});

describe('runLocalExecution with hand-written definitions', () => {
  const chain = (prefix: string, length: number): AslDefinition => ({
    StartAt: `${prefix}0`,
    States: Object.fromEntries(
      Array.from({ length }, (_, i) => [`${prefix}${i}`, i === length - 1 ? { Type: 'Pass', End: true } : { Type: 'Pass', Next: `${prefix}${i + 1}` }]),
    ),
  });

  it('counts every state of Map iterations and Parallel branches, even those finishing last', async () => {
    const definition: AslDefinition = {
      StartAt: 'Both',
      States: {
        Both: { Type: 'Parallel', ResultPath: null, Branches: [chain('a', 30), chain('b', 5)], Next: 'Each' },
        Each: { Type: 'Map', ItemsPath: '$.items', ItemProcessor: chain('m', 4), End: true },
      },
    };
    const result = await runLocalExecution({ definition, input: { items: Array.from({ length: 10 }, (_, i) => i) }, handlers: {} });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.stateTransitions).toBe(2 + 35 + 10 * 4);
  });

  it('retries a Parallel state on an error from inside a branch, counting attempts per retrier', async () => {
    let calls = 0;
    const delays: Array<[string, number, number]> = [];
    const result = await runLocalExecution({
      definition: {
        StartAt: 'Both',
        States: {
          Both: {
            Type: 'Parallel',
            Retry: [{ ErrorEquals: ['Boom'], IntervalSeconds: 1, MaxAttempts: 3 }],
            Branches: [
              { StartAt: 'Call', States: { Call: { Type: 'Task', Resource: 'arn:aws:lambda:eu-central-1:000000000000:function:F', End: true } } },
              { StartAt: 'Idle', States: { Idle: { Type: 'Pass', End: true } } },
            ],
            End: true,
          },
        },
      },
      input: {},
      handlers: {
        Call: async () => {
          calls += 1;
          if (calls <= 2) throw namedError('Boom', 'inside the branch');
          return calls;
        },
      },
      retryDelayMs: (state, attempt, defaultMs) => {
        delays.push([state, attempt, defaultMs]);
        return 0;
      },
    });
    expect(result.output).toEqual([3, {}]);
    expect(delays).toEqual([
      ['Both', 1, 1000],
      ['Both', 2, 2000],
    ]);
    // Both + 2 retries, Call×3, Idle×3
    expect(result.stateTransitions).toBe(1 + 2 + 3 + 3);
  });

  it('provides the Context Object', async () => {
    const definition: AslDefinition = {
      StartAt: 'Context',
      States: {
        Context: {
          Type: 'Pass',
          Parameters: {
            'id.$': '$$.Execution.Id',
            'name.$': '$$.Execution.Name',
            'startTime.$': '$$.Execution.StartTime',
            'machine.$': '$$.StateMachine.Id',
            'state.$': '$$.State.Name',
            'entered.$': '$$.State.EnteredTime',
            'custom.$': '$$.Execution.Custom',
          },
          End: true,
        },
      },
    };
    const result = await runLocalExecution({
      definition,
      stateMachineName: 'Machine',
      name: 'run-1',
      input: {},
      handlers: {},
      context: { Execution: { Custom: 'merged' } },
    });
    expect(result.output).toEqual({
      id: 'arn:aws:states:eu-central-1:000000000000:execution:Machine:run-1',
      name: 'run-1',
      startTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      machine: 'arn:aws:states:eu-central-1:000000000000:stateMachine:Machine',
      state: 'Context',
      entered: expect.stringMatching(/^\d{4}-/),
      custom: 'merged',
    });
  });

  it('treats a handler for another integration as the whole service call', async () => {
    const definition: AslDefinition = {
      StartAt: 'Put',
      States: {
        Put: {
          Type: 'Task',
          Resource: 'arn:aws:states:::dynamodb:putItem',
          Parameters: { TableName: 't', Item: { 'pk.$': '$.pk' } },
          Catch: [{ ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'], ResultPath: '$.error', Next: 'Exists' }],
          End: true,
        },
        Exists: { Type: 'Succeed' },
      },
    };
    const result = await runLocalExecution({
      definition,
      input: { pk: 'a' },
      handlers: {
        Put: async () => {
          throw namedError('DynamoDB.ConditionalCheckFailedException', 'The conditional request failed');
        },
      },
    });
    expect(result.output).toEqual({
      pk: 'a',
      error: { Error: 'DynamoDB.ConditionalCheckFailedException', Cause: 'The conditional request failed' },
    });
  });

  it('refuses what would silently run wrong: JSONata, variables', async () => {
    await expect(
      runLocalExecution({
        definition: { QueryLanguage: 'JSONata', StartAt: 'P', States: { P: { Type: 'Pass', End: true } } },
        input: {},
        handlers: {},
      }),
    ).rejects.toThrow(/JSONata/);
    await expect(
      runLocalExecution({
        definition: { StartAt: 'P', States: { P: { Type: 'Pass', Assign: { x: 1 }, End: true } } },
        input: {},
        handlers: {},
      }),
    ).rejects.toThrow(/P: Assign/);
  });

  it('fails a Task whose result exceeds 256 KiB with States.DataLimitExceeded', async () => {
    const definition: AslDefinition = {
      StartAt: 'Big',
      States: { Big: { Type: 'Task', Resource: 'arn:aws:lambda:eu-central-1:000000000000:function:Big', Retry: [{ ErrorEquals: ['States.ALL'] }], End: true } },
    };
    const result = await runLocalExecution({ definition, input: {}, handlers: { Big: async () => 'x'.repeat(300 * 1024) } });
    expect(result).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded', taskInvocations: 1 });
  });

  it('times out a Task only when its definition says so, and retries States.Timeout', async () => {
    const definition: AslDefinition = {
      StartAt: 'Slow',
      States: {
        Slow: {
          Type: 'Task',
          Resource: 'arn:aws:lambda:eu-central-1:000000000000:function:Slow',
          TimeoutSeconds: 1,
          Retry: [{ ErrorEquals: ['States.Timeout'], MaxAttempts: 1 }],
          End: true,
        },
      },
    };
    let calls = 0;
    const result = await runLocalExecution({
      definition,
      input: {},
      retryDelayMs: () => 0,
      // Only the first call outlasts TimeoutSeconds; a Task without it would have no limit at all.
      handlers: {
        Slow: () => {
          calls += 1;
          return new Promise((resolve) => setTimeout(() => resolve(calls), calls === 1 ? 1500 : 0));
        },
      },
    });
    expect(result).toMatchObject({ status: 'SUCCEEDED', taskInvocations: 2, stateTransitions: 2 });
  });
});
