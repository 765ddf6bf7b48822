import { CloudAssembly } from 'aws-cdk-lib/cx-api';
import type { AslDefinition } from './asl';
import { RetryBook } from './retry-book';
import { type LocalTaskHandler, runLocalExecution } from './state-machine-runner';
import { createLocalApp, findStateMachineDefinition, stateMachineDefinitions, synthesizeTemplate } from './synthesized-definitions';
import { ParallelSampleStack, SampleStack } from '../../test/support/sample-stack';

// aws-cdk-lib removes its temporary assembly directories on process exit, which jest never fires.
afterAll(() => CloudAssembly.cleanupTemporaryDirectories());

const stack = new SampleStack(createLocalApp(), 'Sample');
const sample = findStateMachineDefinition(stateMachineDefinitions(synthesizeTemplate(stack)), stack.stateMachine);
const EXECUTION_ARN = (name: string) => `arn:aws:states:eu-central-1:000000000000:execution:${sample.name}:${name}`;
const FUNCTION_ARN = 'arn:aws:lambda:eu-central-1:000000000000:function:F';

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

interface Payload {
  state: Record<string, unknown>;
  execution: string;
}

/** Handlers for the sample's Task states, as the runner's Lambdas: `{state, execution}` in, the next state out. */
function sampleHandlers(flaky: (call: number) => unknown, pollsUntilDone = 1) {
  const payloads: Record<string, Payload[]> = {};
  const calledAt: Record<string, number[]> = {};
  const lambda =
    (state: string, next: (payload: Payload) => unknown): LocalTaskHandler =>
    async (event) => {
      const payload = event as Payload;
      (payloads[state] ??= []).push(payload);
      (calledAt[state] ??= []).push(Date.now());
      return next(payload);
    };
  let flakyCalls = 0;
  let polls = 0;
  const handlers: Record<string, LocalTaskHandler> = {
    Start: lambda('Start', ({ state }) => ({ ...state, started: true })),
    Flaky: lambda('Flaky', ({ state }) => ({ ...state, flaky: flaky(++flakyCalls) })),
    Poll: lambda('Poll', ({ state }) => ({ ...state, done: ++polls >= pollsUntilDone })),
  };
  return { handlers, payloads, calledAt };
}

const input = { id: 'task-1' };
// Start, Flaky, Poll, Done?, Done
const ENTRIES_ON_THE_DIRECT_PATH = 5;

describe('runLocalExecution with the synthesized sample', () => {
  it('gives each handler the {state, execution} payload its Lambda would get and passes its result on as the state', async () => {
    const { handlers, payloads } = sampleHandlers(() => 'ok');
    const result = await runLocalExecution({ definition: sample, input, name: 'direct-path', handlers, waitMs: () => 0 });

    expect(result.status).toBe('SUCCEEDED');
    expect(payloads['Start']).toEqual([{ state: input, execution: EXECUTION_ARN('direct-path') }]);
    expect(payloads['Flaky']).toEqual([{ state: { ...input, started: true }, execution: EXECUTION_ARN('direct-path') }]);
    expect(result.output).toEqual({ ...input, started: true, flaky: 'ok', done: true });
    expect(result.stateTransitions).toBe(ENTRIES_ON_THE_DIRECT_PATH);
    expect(result.taskInvocations).toBe(3);
  });

  it('retries an error by its name with the second retrier, offering FULL-jittered default delays, and counts each retry', async () => {
    const { handlers, payloads } = sampleHandlers((call) => {
      if (call <= 2) throw namedError('EpilotTransientError', `epilot answered 503 (call ${call})`);
      return 'third time lucky';
    });
    const delays: Array<[string, number, number]> = [];
    const result = await runLocalExecution({
      definition: sample,
      input,
      handlers,
      retryDelayMs: (state, attempt, defaultMs) => {
        delays.push([state, attempt, defaultMs]);
        return 0;
      },
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({ flaky: 'third time lucky' });
    // A retry gets the state input again, not what the failed attempt had.
    expect(payloads['Flaky']?.map((p) => p.state)).toEqual([1, 2, 3].map(() => ({ ...input, started: true })));
    expect(delays.map(([state, attempt]) => [state, attempt])).toEqual([
      ['Flaky', 1],
      ['Flaky', 2],
    ]);
    // IntervalSeconds 2, BackoffRate 2, FULL jitter: somewhere in [0, 2 s], then [0, 4 s].
    expect(delays[0]?.[2]).toBeGreaterThanOrEqual(0);
    expect(delays[0]?.[2]).toBeLessThanOrEqual(2000);
    expect(delays[1]?.[2]).toBeLessThanOrEqual(4000);
    expect(result.stateTransitions).toBe(ENTRIES_ON_THE_DIRECT_PATH + 2);
    expect(result.taskInvocations).toBe(3 + 2);
  });

  it('caps the default delay at MaxDelaySeconds and fails with the Lambda error once MaxAttempts run out', async () => {
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
    // Start, Flaky + 3 retries
    expect(result.stateTransitions).toBe(2 + 3);
  });

  it('catches an error by its name into ResultPath, and the Fail state ends the execution with its Error and Cause', async () => {
    const { handlers } = sampleHandlers(() => {
      throw namedError('EpilotPermanentError', 'epilot answered 404');
    });
    const result = await runLocalExecution({ definition: sample, input, handlers });

    expect(result).toMatchObject({ status: 'FAILED', error: 'EpilotPermanentError', stateTransitions: 3 });
    // Cause is the Lambda runtime's error JSON, as in AWS.
    const cause = JSON.parse(result.cause ?? '') as { errorType: string; errorMessage: string; trace: string[] };
    expect(cause).toMatchObject({ errorType: 'EpilotPermanentError', errorMessage: 'epilot answered 404' });
    expect(cause.trace[0]).toBe('EpilotPermanentError: epilot answered 404');
  });

  it('does not let Retry or Catch match a generic Error', async () => {
    const { handlers } = sampleHandlers(() => {
      throw new Error('EpilotTransientError in the message is not enough');
    });
    const result = await runLocalExecution({ definition: sample, input, handlers });
    expect(result).toMatchObject({ status: 'FAILED', error: 'Error', taskInvocations: 2 });
  });

  it("runs a Wait loop in no time when waitMs returns 0, asking waitMs once with the state's Seconds", async () => {
    const { handlers } = sampleHandlers(() => 'ok', 25);
    const waits: Array<[string, number]> = [];
    const started = Date.now();
    const result = await runLocalExecution({
      definition: sample,
      input,
      handlers,
      waitMs: (state, seconds) => {
        waits.push([state, seconds]);
        return 0;
      },
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(waits).toEqual([['Pause', 3600]]);
    // Each of the 24 rounds enters Done?, Pause and Poll.
    expect(result.stateTransitions).toBe(ENTRIES_ON_THE_DIRECT_PATH + 24 * 3);
    expect(result.taskInvocations).toBe(3 + 24);
  });

  it('pauses a Wait state for as long as waitMs says', async () => {
    const { handlers, calledAt } = sampleHandlers(() => 'ok', 2);
    const result = await runLocalExecution({ definition: sample, input, handlers, waitMs: (_state, seconds) => seconds / 36 });
    expect(result.status).toBe('SUCCEEDED');
    const [first = 0, second = 0] = calledAt['Poll'] ?? [];
    expect(second - first).toBeGreaterThanOrEqual(95);
  });

  it('fails loudly, before running anything, when a Task state has no handler or a handler has no state', async () => {
    const { handlers } = sampleHandlers(() => 'ok');
    const called = jest.fn();
    const withoutPoll: Record<string, LocalTaskHandler> = { ...handlers, Start: called };
    delete withoutPoll['Poll'];
    await expect(runLocalExecution({ definition: sample, input, handlers: withoutPoll })).rejects.toThrow(
      'Task states without a local handler: Poll',
    );
    await expect(
      runLocalExecution({ definition: sample, input, handlers: { ...handlers, Start: called, Typo: called, Pause: called } }),
    ).rejects.toThrow('Handlers for no Task state of the definition: Typo, Pause (a Wait state)');
    expect(called).not.toHaveBeenCalled();
  });

  it('rejects execution names Step Functions would reject', async () => {
    const { handlers } = sampleHandlers(() => 'ok');
    await expect(runLocalExecution({ definition: sample, input, handlers, name: 'has space' })).rejects.toThrow(
      /not a valid execution name/,
    );
    await expect(runLocalExecution({ definition: sample, input, handlers, name: 'x'.repeat(81) })).rejects.toThrow(
      /not a valid execution name/,
    );
  });

  it('refuses a synthesized Parallel state before running anything, naming the state', async () => {
    const parallel = new ParallelSampleStack(createLocalApp(), 'ParallelSample');
    const [definition] = stateMachineDefinitions(synthesizeTemplate(parallel));
    const called = jest.fn();
    await expect(runLocalExecution({ definition: definition ?? {}, input, handlers: { Left: called, Right: called } })).rejects.toThrow(
      'Fanout: Parallel states are not supported (only Task, Choice, Wait, Succeed, Fail)',
    );
    expect(called).not.toHaveBeenCalled();
  });
});

/** A definition of one Task state, Call, with `fields` added. */
const single = (fields: Record<string, unknown>): AslDefinition => ({
  StartAt: 'Call',
  States: { Call: { Type: 'Task', Resource: FUNCTION_ARN, End: true, ...fields } },
});

describe('runLocalExecution with hand-written definitions', () => {
  it.each<[string, AslDefinition, string]>([
    [
      'a Map state',
      { StartAt: 'Each', States: { Each: { Type: 'Map', ItemProcessor: single({}), End: true } } },
      'Each: Map states are not supported',
    ],
    ['a Pass state', { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } }, 'P: Pass states are not supported'],
    ['JSONata', { ...single({}), QueryLanguage: 'JSONata' }, 'top level: QueryLanguage JSONata'],
    ['a Task timeout', single({ TimeoutSeconds: 5 }), 'Call: Task field TimeoutSeconds is not supported'],
    ['ResultPath on a Task', single({ ResultPath: '$.result' }), 'Call: Task field ResultPath is not supported'],
    [
      'another integration',
      single({ Resource: 'arn:aws:states:::dynamodb:putItem' }),
      'Call: Resource "arn:aws:states:::dynamodb:putItem" is not a Lambda function ARN',
    ],
    [
      '$$.State',
      single({ Parameters: { 'retries.$': '$$.State.RetryCount' } }),
      'Call: Context Object path $$.State.RetryCount is not provided locally',
    ],
    [
      'a SecondsPath wait',
      { StartAt: 'W', States: { W: { Type: 'Wait', SecondsPath: '$.s', End: true } } },
      'W: Wait field SecondsPath is not supported',
    ],
    [
      'a retrier field',
      single({ Retry: [{ ErrorEquals: ['States.ALL'], MaxAttemptsPath: '$.n' }] }),
      'Call: Retry[0] field MaxAttemptsPath is not supported',
    ],
  ])('refuses %s, naming the state and the feature', async (_what, definition, message) => {
    const handlers: Record<string, LocalTaskHandler> = 'Call' in definition.States ? { Call: jest.fn() } : {};
    await expect(runLocalExecution({ definition, input: {}, handlers })).rejects.toThrow(message);
  });

  it('provides the Context Object fields it allows', async () => {
    const definition = single({
      Parameters: {
        'id.$': '$$.Execution.Id',
        'name.$': '$$.Execution.Name',
        'startTime.$': '$$.Execution.StartTime',
        'machine.$': '$$.StateMachine.Id',
        'machineName.$': '$$.StateMachine.Name',
      },
    });
    const result = await runLocalExecution({ definition, name: 'run-1', input: {}, handlers: { Call: async (payload) => payload } });
    expect(result.output).toEqual({
      id: 'arn:aws:states:eu-central-1:000000000000:execution:LocalStateMachine:run-1',
      name: 'run-1',
      startTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      machine: 'arn:aws:states:eu-central-1:000000000000:stateMachine:LocalStateMachine',
      machineName: 'LocalStateMachine',
    });
  });

  it('fails a Task whose result exceeds 256 KiB with States.DataLimitExceeded, which States.ALL does not retry', async () => {
    const definition = single({ Retry: [{ ErrorEquals: ['States.ALL'] }] });
    const result = await runLocalExecution({ definition, input: {}, handlers: { Call: async () => 'x'.repeat(300 * 1024) } });
    expect(result).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded', taskInvocations: 1 });
  });

  it("ends as TIMED_OUT after the definition's TimeoutSeconds and calls no handler afterwards", async () => {
    let calls = 0;
    const definition: AslDefinition = { ...single({ Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 1 }] }), TimeoutSeconds: 1 };
    const result = await runLocalExecution({
      definition,
      input: {},
      retryDelayMs: () => 0,
      handlers: {
        // Outlasts the execution, then fails: the library would retry it in the background.
        Call: async () => {
          calls += 1;
          await new Promise((resolve) => setTimeout(resolve, 1100));
          throw namedError('Late', 'after the timeout');
        },
      },
    });
    expect(result).toMatchObject({ status: 'TIMED_OUT', error: 'States.Timeout' });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(calls).toBe(1);
  });
});

// The library reads `retryIntervalOverrides` right after a handler's rejection, and retries as retry-book.ts
// replicates. These fail if an aws-local-stepfunctions release changes either.
describe('retry-book against aws-local-stepfunctions', () => {
  it('the library waits exactly the delay left in retryIntervalOverrides when the handler rejected, per retry', async () => {
    const { handlers, calledAt } = sampleHandlers((call) => {
      if (call <= 2) throw namedError('EpilotTransientError', 'down');
      return 'ok';
    });
    const result = await runLocalExecution({
      definition: sample,
      input,
      handlers,
      retryDelayMs: (_state, attempt) => (attempt === 1 ? 0 : 200),
    });
    expect(result.status).toBe('SUCCEEDED');
    const [first = 0, second = 0, third = 0] = calledAt['Flaky'] ?? [];
    expect(second - first).toBeLessThan(150);
    expect(third - second).toBeGreaterThanOrEqual(195);
  });

  it('the library counts attempts per entry of a state, so a looping state starts again at attempt 1', async () => {
    const definition: AslDefinition = {
      StartAt: 'Call',
      States: {
        Call: { Type: 'Task', Resource: FUNCTION_ARN, Retry: [{ ErrorEquals: ['Boom'], MaxAttempts: 1 }], Next: 'Again?' },
        'Again?': { Type: 'Choice', Choices: [{ Variable: '$.round', NumericLessThan: 3, Next: 'Call' }], Default: 'Finished' },
        Finished: { Type: 'Succeed' },
      },
    };
    let calls = 0;
    const attempts: number[] = [];
    const result = await runLocalExecution({
      definition,
      input: { round: 0 },
      retryDelayMs: (_state, attempt) => {
        attempts.push(attempt);
        return 0;
      },
      // Every entry fails once, then succeeds on its retry.
      handlers: {
        Call: async (payload) => {
          calls += 1;
          if (calls % 2 === 1) throw namedError('Boom', 'first try of the round');
          return { round: (payload as { round: number }).round + 1 };
        },
      },
    });
    expect(result).toMatchObject({ status: 'SUCCEEDED', output: { round: 3 }, taskInvocations: 6 });
    expect(attempts).toEqual([1, 1, 1]);
  });

  it('fails loudly when the library retries other than decided', () => {
    const definition: AslDefinition = single({ Retry: [{ ErrorEquals: ['Boom'], MaxAttempts: 2 }] });
    const book = new RetryBook(definition, () => 0);
    book.loggedEntry('Call');
    book.called('Call');
    book.failed('Call', Object.assign(namedError('Boom', 'x'), { isRetryable: true }));
    expect(book.overrides).toEqual({ Call: 0 });
    expect(() => book.loggedRetry('Call', { ErrorEquals: ['Boom'], MaxAttempts: 2 }, 2)).toThrow(
      /the library made attempt 2 .* the runner decided attempt 1 of retrier 0/,
    );
    const missed = new RetryBook(definition, () => 0);
    missed.loggedEntry('Call');
    missed.called('Call');
    missed.failed('Call', Object.assign(namedError('Boom', 'x'), { isRetryable: true }));
    expect(() => missed.loggedEntry('Call')).toThrow(/expected retry attempt 1 of retrier 0, the library made none/);
  });
});
