import { EpilotPermanentError, EpilotRateLimitedError, EpilotTransientError } from '../shared/errors';
import type { Clock } from '../shared/clock';
import type { AutomationApi } from '../shared/epilot/automation-api';
import { createLogger } from '../shared/logger';
import { runnerSettings } from '../shared/config/settings';
import type { TaskRun, TaskState } from '../shared/domain/task-state';
import { getAutomationStatus } from './get-automation-status';

/** A clock that only moves when slept on, and a run whose statuses come from a script, one per call. */
function polling(statuses: string[], settings = runnerSettings({ pollIntervalMs: 1000, pollWindowMs: 120_000 })) {
  let now = Date.parse('2024-05-01T12:00:00.000Z');
  const calls: number[] = [];
  const clock: Clock = {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
  };
  const automations = {
    get: async () => {
      calls.push(now);
      return { id: 'run-1', status: statuses.shift() ?? 'in_progress' };
    },
  } as unknown as AutomationApi;
  const step = getAutomationStatus({ automations, clock, settings });
  const state = (run: Partial<TaskRun>): TaskState => ({
    workflowExecutionId: 'wf-1',
    taskId: 'task-1',
    trigger: 'sweep',
    run: {
      executionId: 'run-1',
      status: 'pending',
      adopted: false,
      startedAt: new Date(now).toISOString(),
      deadline: new Date(now + settings.automationTimeoutMs).toISOString(),
      polls: 0,
      finished: false,
      timedOut: false,
      ...run,
    },
  });
  const start = now;
  const run = (partial: Partial<TaskRun> = {}) =>
    step(state(partial), { execution: 'execution-1', logger: createLogger({ logLevel: 'SILENT' }) });
  return { run, calls: () => calls.map((at) => at - start) };
}

describe('getAutomationStatus', () => {
  it('calls first one interval after the start of a run it started, then once per interval', async () => {
    const { run, calls } = polling(['in_progress', 'in_progress', 'success']);

    const result = await run();

    expect(result.run).toMatchObject({ status: 'success', polls: 3, finished: true });
    expect(calls()).toEqual([1000, 2000, 3000]);
  });

  it('counts the interval from the start, not from the invocation', async () => {
    const settings = runnerSettings({ pollIntervalMs: 1000, pollWindowMs: 120_000 });
    const { run, calls } = polling(['success'], settings);
    const startedAgo = 300;

    await run({ startedAt: new Date(Date.parse('2024-05-01T12:00:00.000Z') - startedAgo).toISOString() });

    expect(calls()).toEqual([700]);
  });

  it.each(['success', 'failed', 'cancelled', 'skipped', 'hot'])('marks the run finished when it is %s', async (status) => {
    const { run } = polling([status]);

    const result = await run();

    expect(result.run).toMatchObject({ status, polls: 1, finished: true, timedOut: false });
  });

  it('calls at once for a run without a recorded start time (a state from before startedAt was carried)', async () => {
    const { run, calls } = polling(['success']);

    await run({ startedAt: undefined });

    expect(calls()).toEqual([0]);
  });

  it('calls at once for an adopted run (it may have finished long ago) and when polling on', async () => {
    const adopted = polling(['success']);
    await adopted.run({ adopted: true });
    expect(adopted.calls()).toEqual([0]);

    const pollingOn = polling(['success']);
    await pollingOn.run({ polls: 5 });
    expect(pollingOn.calls()).toEqual([0]);
  });

  it('hands back to the Wait state when the window is over', async () => {
    const { run, calls } = polling([], runnerSettings({ pollIntervalMs: 1000, pollWindowMs: 5000 }));

    const result = await run({ polls: 3 });

    expect(result.run).toMatchObject({ status: 'in_progress', polls: 9, finished: false, timedOut: false });
    expect(calls()).toEqual([0, 1000, 2000, 3000, 4000, 5000]);
  });
});

describe('getAutomationStatus past the deadline (a task taken over after a crash)', () => {
  const now = Date.parse('2024-05-01T12:00:00.000Z');
  const clock: Clock = { now: () => now, sleep: async () => undefined };
  const settings = runnerSettings({ pollIntervalMs: 1000, pollWindowMs: 120_000 });
  const pastDeadline: TaskState = {
    workflowExecutionId: 'wf-1',
    taskId: 'task-1',
    trigger: 'sweep',
    run: {
      executionId: 'run-1',
      status: 'in_progress',
      adopted: true,
      deadline: new Date(now - 1).toISOString(),
      polls: 0,
      finished: false,
      timedOut: false,
    },
  };
  const context = { execution: 'execution-2', logger: createLogger({ logLevel: 'SILENT' }) };

  it('reports a run that succeeded as finished, not timed out', async () => {
    const automations = { get: async () => ({ id: 'run-1', status: 'success' }) } as unknown as AutomationApi;

    const result = await getAutomationStatus({ automations, clock, settings })(pastDeadline, context);

    expect(result.run).toMatchObject({ status: 'success', finished: true, timedOut: false });
  });

  it('does not declare a timeout when the last status call failed: the error goes to the state’s retries', async () => {
    const automations = {
      get: async () => {
        throw new EpilotTransientError('getExecution answered 503');
      },
    } as unknown as AutomationApi;

    const error = await getAutomationStatus({ automations, clock, settings })(pastDeadline, context).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(EpilotTransientError);
    expect((error as Error).name).toBe('EpilotTransientError');
  });
});

describe('getAutomationStatus within its Lambda timeout and Retry-After', () => {
  const start = Date.parse('2024-05-01T12:00:00.000Z');

  /** Each call answers the next entry: a status, or an error to throw; then `in_progress`. */
  function scripted(answers: Array<string | Error>, options: { settings: Parameters<typeof runnerSettings>[0]; remainingMs?: number }) {
    let now = start;
    const calls: Array<{ at: number; notAfter: number | undefined }> = [];
    const clock: Clock = {
      now: () => now,
      sleep: async (ms) => {
        now += ms;
      },
    };
    const automations = {
      get: async (_id: string, callOptions: { notAfter?: number } = {}) => {
        calls.push({ at: now - start, notAfter: callOptions.notAfter === undefined ? undefined : callOptions.notAfter - start });
        const answer = answers.shift() ?? 'in_progress';
        if (answer instanceof Error) throw answer;
        return { id: 'run-1', status: answer };
      },
    } as unknown as AutomationApi;
    const settings = runnerSettings(options.settings);
    const state: TaskState = {
      workflowExecutionId: 'wf-1',
      taskId: 'task-1',
      trigger: 'sweep',
      run: {
        executionId: 'run-1',
        status: 'in_progress',
        adopted: false,
        deadline: new Date(start + 3_600_000).toISOString(),
        polls: 3,
        finished: false,
        timedOut: false,
      },
    };
    const remaining = options.remainingMs;
    const run = () =>
      getAutomationStatus({ automations, clock, settings })(state, {
        execution: 'execution-1',
        logger: createLogger({ logLevel: 'SILENT' }),
        remainingTimeMs: remaining === undefined ? undefined : () => remaining - (now - start),
      });
    return { run, calls, elapsed: () => now - start };
  }

  it('with 10 s of Lambda time left, makes no call that could end after 8 s (2 s kept back) and hands back', async () => {
    const { run, calls, elapsed } = scripted([], {
      settings: { pollIntervalMs: 1000, pollWindowMs: 120_000, httpTimeoutMs: 1000 },
      remainingMs: 10_000,
    });

    const result = await run();

    expect(result.run).toMatchObject({ finished: false, timedOut: false, polls: 3 + 8 });
    expect(calls.map((call) => call.at)).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6000, 7000]);
    expect(calls.every((call) => call.notAfter === 8000)).toBe(true);
    expect(elapsed()).toBeLessThanOrEqual(8000);
  });

  it('without a Lambda context, keeps to the timeout the stack configures (pollCallSeconds)', async () => {
    const { run, calls } = scripted([], { settings: { pollIntervalMs: 1000, pollWindowMs: 5000, httpTimeoutMs: 1000 } });

    await run();

    // pollCallSeconds = ceil((5000 + 1000 + 6 × 1000) / 1000) + 10 = 22 s; 2 s kept back.
    expect(calls[0]?.notAfter).toBe(20_000);
  });

  it('after a 429 that asked for 3 s, calls again 3 s later, not one interval later', async () => {
    const { run, calls } = scripted([new EpilotRateLimitedError('getExecution answered 429', 3000), 'success'], {
      settings: { pollIntervalMs: 1000, pollWindowMs: 120_000 },
      remainingMs: 150_000,
    });

    const result = await run();

    expect(result.run).toMatchObject({ status: 'success', finished: true });
    expect(calls.map((call) => call.at)).toEqual([0, 3000]);
  });

  it('at the end of its window, waits out a Retry-After before handing back, so the next call cannot come early', async () => {
    const { run, elapsed } = scripted([new EpilotRateLimitedError('getExecution answered 429', 4000)], {
      settings: { pollIntervalMs: 1000, pollWindowMs: 0 },
      remainingMs: 60_000,
    });

    const result = await run();

    expect(result.run).toMatchObject({ finished: false, timedOut: false });
    expect(elapsed()).toBe(4000);
  });

  it('leaves as EpilotRateLimitedError when the Retry-After does not fit in the Lambda time left (Step Functions waits it out)', async () => {
    const { run, calls, elapsed } = scripted([new EpilotRateLimitedError('getExecution answered 429', 20_000)], {
      settings: { pollIntervalMs: 1000, pollWindowMs: 120_000 },
      remainingMs: 10_000,
    });

    const error = await run().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(EpilotRateLimitedError);
    expect(calls).toHaveLength(1);
    expect(elapsed()).toBe(0);
  });

  it('polls on after an unknown socket error or a redirect (EpilotPermanentError without a 4xx): it says nothing about the run', async () => {
    const { run, calls } = scripted(
      [
        new EpilotPermanentError('getExecution failed: EPROTO: unexpected protocol failure', 0),
        new EpilotPermanentError('getExecution answered 302', 302),
        'success',
      ],
      { settings: { pollIntervalMs: 1000, pollWindowMs: 120_000 }, remainingMs: 150_000 },
    );

    const result = await run();

    expect(result.run).toMatchObject({ status: 'success', finished: true });
    expect(calls).toHaveLength(3);
  });

  it('fails with the EpilotPermanentError of a 404 at once: the run is gone, which the Catch cancels and fails', async () => {
    const { run, calls } = scripted([new EpilotPermanentError('getExecution answered 404', 404)], {
      settings: { pollIntervalMs: 1000, pollWindowMs: 120_000 },
      remainingMs: 150_000,
    });

    const error = await run().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(EpilotPermanentError);
    expect(calls).toHaveLength(1);
  });
});
