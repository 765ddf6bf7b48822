import { describeError, EpilotTransientError } from '../shared/errors';
import { isKnownAutomationStatus, isTerminalAutomationStatus } from '../shared/epilot/automation-api';
import { type RunnerDeps, type TaskStep, taskStateHandler } from '../shared/runtime/runner-deps';
import { expectField } from '../shared/domain/task-state';
import { watchingTheStep } from './step-watch';

/**
 * Polls the run every `pollIntervalMs` for up to `pollWindowMs`, then hands back to the Wait state. Polling inside
 * one invocation keeps the one-second latency while costing a fraction of the state transitions a
 * Wait → Lambda → Choice loop per second would; with a window of 0 it is exactly that loop.
 */
export function getAutomationStatus(deps: Pick<RunnerDeps, 'automations' | 'clock' | 'settings'>): TaskStep {
  return async (state, { logger }) => {
    const run = expectField(state.run, 'run');
    const executionId = expectField(run.executionId, 'run.executionId');
    const deadline = Date.parse(expectField(run.deadline, 'run.deadline'));
    const { pollIntervalMs, pollWindowMs } = deps.settings;
    const windowEnds = deps.clock.now() + pollWindowMs;
    let polls = run.polls;
    let status = run.status;
    // A run this execution has just started was `pending` a moment ago (the start call said so): the first status
    // call comes one interval after the start, like every other, so polling stays at one call per second of the run.
    if (polls === 0 && !run.adopted && run.startedAt !== undefined) {
      const firstCallAt = Math.min(Date.parse(run.startedAt) + pollIntervalMs, deadline);
      const wait = Math.min(firstCallAt - deps.clock.now(), pollIntervalMs);
      if (wait > 0) await deps.clock.sleep(wait);
    }
    for (;;) {
      polls += 1;
      let failedCall: EpilotTransientError | undefined;
      try {
        status = (await deps.automations.get(executionId)).status;
      } catch (error) {
        // epilot being briefly unavailable must not fail a run that is fine: keep polling until the deadline.
        if (!(error instanceof EpilotTransientError)) throw error;
        failedCall = error;
        logger.warn('Status call failed; polling on', { error: describeError(error), polls });
      }
      const now = deps.clock.now();
      if (status !== undefined && isTerminalAutomationStatus(status)) {
        logger.info('Automation run finished', { automationStatus: status, polls });
        return { ...state, run: { ...run, status, polls, finished: true } };
      }
      if (status !== undefined && !isKnownAutomationStatus(status)) {
        logger.warn('Unknown automation status; polling on until the deadline', { automationStatus: status });
      }
      if (now >= deadline) {
        // Never declare a timeout on a guess: without a fresh status the run may well have succeeded.
        if (failedCall) throw failedCall;
        logger.warn('Automation run passed its deadline', { automationStatus: status, polls, deadline: run.deadline });
        return { ...state, run: { ...run, status, polls, timedOut: true } };
      }
      if (now + pollIntervalMs > windowEnds) return { ...state, run: { ...run, status, polls } };
      await deps.clock.sleep(Math.min(pollIntervalMs, deadline - now));
    }
  };
}

export const createGetAutomationStatusHandler = (deps: Pick<RunnerDeps, 'automations' | 'workflows' | 'clock' | 'settings' | 'logger'>) =>
  taskStateHandler(deps.logger, watchingTheStep(deps, getAutomationStatus(deps)));
