import { type RunnerDeps, taskStateHandler } from '../shared/runtime/runner-deps';
import type { TaskResult, TaskState } from '../shared/domain/task-state';

/** The guide's mapping from a finished automation run to the workflow step's status. */
export const STEP_STATUS_BY_AUTOMATION_STATUS = {
  success: 'COMPLETED',
  failed: 'FAILED',
  skipped: 'SKIPPED',
  cancelled: 'SKIPPED',
  hot: 'FAILED',
} as const satisfies Record<string, TaskResult['stepStatus']>;

export function mapStatus(state: TaskState, timeoutMs: number): TaskResult {
  const run = state.run;
  if (state.error) {
    return {
      stepStatus: 'FAILED',
      automationStatus: run?.status,
      reason: `the runner could not finish the automation: ${state.error.Error}${state.error.Cause ? `: ${state.error.Cause}` : ''}`
        .slice(0, 1000)
        .concat(run?.status === 'cancelled' ? '; the run was cancelled' : ''),
    };
  }
  if (run?.timedOut) {
    return {
      stepStatus: 'FAILED',
      automationStatus: run.status,
      reason: `automation did not finish within ${Math.round(timeoutMs / 1000)} s${run.status === 'cancelled' ? '; the run was cancelled' : ''}`,
    };
  }
  const status = run?.status;
  if (status !== undefined && Object.hasOwn(STEP_STATUS_BY_AUTOMATION_STATUS, status)) {
    const stepStatus = STEP_STATUS_BY_AUTOMATION_STATUS[status as keyof typeof STEP_STATUS_BY_AUTOMATION_STATUS];
    return { stepStatus, automationStatus: status, reason: `automation ${status}` };
  }
  return { stepStatus: 'FAILED', automationStatus: status, reason: `automation ended in an unknown status (${status ?? 'none'})` };
}

export const createMapStatusHandler = (deps: Pick<RunnerDeps, 'logger' | 'settings'>) =>
  taskStateHandler(deps.logger, async (state, { logger }) => {
    const result = mapStatus(state, deps.settings.automationTimeoutMs);
    logger.info('Mapped automation result', { ...result });
    return { ...state, result };
  });
