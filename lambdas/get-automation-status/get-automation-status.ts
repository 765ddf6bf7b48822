import { describeError, EpilotPermanentError, EpilotRateLimitedError, EpilotTransientError } from '../shared/errors';
import { pollCallSeconds } from '../shared/config/settings';
import { isKnownAutomationStatus, isTerminalAutomationStatus } from '../shared/epilot/automation-api';
import { type RunnerDeps, type TaskStep, taskStateHandler } from '../shared/runtime/runner-deps';
import { expectField } from '../shared/domain/task-state';
import { watchingTheStep } from './step-watch';

/**
 * Kept back from the Lambda's timeout: returning takes a moment, and a Lambda killed at its timeout is an error
 * (Sandbox.Timedout) that says nothing about the run.
 */
const RETURN_MARGIN_MS = 2_000;

/**
 * Polls the run every `pollIntervalMs` for up to `pollWindowMs`, then hands back to the Wait state. Polling inside
 * one invocation keeps the one-second latency while costing a fraction of the state transitions a
 * Wait → Lambda → Choice loop per second would; with a window of 0 it is exactly that loop.
 *
 * It returns before its Lambda's timeout whatever epilot does: no call starts, and the HTTP client makes no retry,
 * that could end after `mustReturnAt`. A `Retry-After` is honoured here too: the next call (this invocation's or,
 * when it returns, the next one's) comes no sooner than epilot asked; a wait that does not fit leaves as
 * EpilotRateLimitedError, which Step Functions retries no sooner than the longest `Retry-After` honoured.
 */
export function getAutomationStatus(deps: Pick<RunnerDeps, 'automations' | 'clock' | 'settings'>): TaskStep {
  return async (state, { logger, remainingTimeMs }) => {
    const run = expectField(state.run, 'run');
    const executionId = expectField(run.executionId, 'run.executionId');
    const deadline = Date.parse(expectField(run.deadline, 'run.deadline'));
    const { pollIntervalMs, pollWindowMs, httpTimeoutMs } = deps.settings;
    const invoked = deps.clock.now();
    const windowEnds = invoked + pollWindowMs;
    // The configured timeout is pollCallSeconds; the context says what is left of it (whichever is sooner).
    const timeLeft = Math.min(pollCallSeconds(deps.settings) * 1000, remainingTimeMs?.() ?? Number.POSITIVE_INFINITY);
    const mustReturnAt = invoked + timeLeft - RETURN_MARGIN_MS;
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
      let failedCall: EpilotTransientError | EpilotRateLimitedError | undefined;
      try {
        status = (await deps.automations.get(executionId, { notAfter: mustReturnAt })).status;
      } catch (error) {
        // epilot being briefly unavailable must not fail a run that is fine: keep polling until the deadline.
        failedCall = saysNothingAboutTheRun(error);
        if (!failedCall) throw error;
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
      const retryAfterMs = failedCall instanceof EpilotRateLimitedError ? failedCall.retryAfterMs : 0;
      const pause = Math.max(pollIntervalMs, retryAfterMs);
      if (now + pause > windowEnds || now + pause + httpTimeoutMs > mustReturnAt) {
        // Handing back: the Wait state and the next invocation's first call must not come before the Retry-After.
        if (retryAfterMs > 0) {
          if (failedCall && now + retryAfterMs > mustReturnAt) throw failedCall;
          await deps.clock.sleep(retryAfterMs);
        }
        return { ...state, run: { ...run, status, polls } };
      }
      await deps.clock.sleep(retryAfterMs > 0 ? pause : Math.min(pause, deadline - now));
    }
  };
}

/**
 * The failure as one to poll on, or `undefined` when it is about the run itself and goes to the Catch (cancel and
 * FAILED): a 4xx for the run (404: epilot no longer knows it). An unknown socket error or a redirect
 * (EpilotPermanentError without a 4xx status) says nothing about the run, so it is polled on like a 5xx.
 */
function saysNothingAboutTheRun(error: unknown): EpilotTransientError | EpilotRateLimitedError | undefined {
  if (error instanceof EpilotTransientError || error instanceof EpilotRateLimitedError) return error;
  if (error instanceof EpilotPermanentError && (error.status < 400 || error.status >= 500)) return new EpilotTransientError(error.message);
  return undefined;
}

export const createGetAutomationStatusHandler = (deps: Pick<RunnerDeps, 'automations' | 'workflows' | 'clock' | 'settings' | 'logger'>) =>
  taskStateHandler(deps.logger, watchingTheStep(deps, getAutomationStatus(deps)));
