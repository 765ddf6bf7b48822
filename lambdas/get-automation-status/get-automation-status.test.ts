import { EpilotTransientError } from '../shared/errors';
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
