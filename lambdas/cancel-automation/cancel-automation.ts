import { describeError, EpilotPermanentError } from '../shared/errors';
import { type RunnerDeps, type TaskStep, taskStateHandler } from '../shared/runner-deps';
import { expectField } from '../shared/task-state';

/**
 * Cancels a run that outlived its deadline, so nothing keeps running unseen once the step is failed. A run epilot
 * refuses to cancel (already finished, unknown) does not stop the step from being patched.
 */
export function cancelAutomation(deps: Pick<RunnerDeps, 'automations'>): TaskStep {
  return async (state, { logger }) => {
    const run = expectField(state.run, 'run');
    const executionId = expectField(run.executionId, 'run.executionId');
    try {
      await deps.automations.cancel(executionId);
      logger.info('Cancelled automation run after its deadline');
      return { ...state, run: { ...run, status: 'cancelled' } };
    } catch (error) {
      if (!(error instanceof EpilotPermanentError)) throw error;
      logger.warn('epilot refused to cancel the run', { error: describeError(error) });
      return state;
    }
  };
}

export const createCancelAutomationHandler = (deps: Pick<RunnerDeps, 'automations' | 'logger'>) =>
  taskStateHandler(deps.logger, cancelAutomation(deps));
