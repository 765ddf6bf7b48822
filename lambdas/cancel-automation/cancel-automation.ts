import { describeError, EpilotPermanentError } from '../shared/errors';
import { recordDecidedResult } from '../shared/domain/task-lifecycle';
import { decideResult } from '../shared/domain/task-result';
import { ownedRecord } from '../shared/records/owned-record';
import { type RunnerDeps, type TaskStep, taskStateHandler } from '../shared/runtime/runner-deps';
import { expectField } from '../shared/domain/task-state';

/**
 * Cancels a run that outlived its deadline (or that the runner can no longer follow, or whose step someone else
 * finalized: then their decision is the result, and Patch step closes the record without patching), so nothing
 * keeps running unseen once the step is final. The FAILED result goes to the record first: an execution that takes the task
 * over after a crash right after the cancel patches that result, instead of taking the cancelled run for a person
 * skipping the task. A run epilot refuses to cancel (already finished, unknown) does not stop the patch. The state
 * carries the recorded result on, so Patch step does not decide it again.
 */
function cancelAutomation(deps: Pick<RunnerDeps, 'automations' | 'records' | 'clock' | 'settings'>): TaskStep {
  return async (state, { execution, logger }) => {
    const run = expectField(state.run, 'run');
    const executionId = expectField(run.executionId, 'run.executionId');
    const decided = decideResult({ ...state, run: { ...run, status: 'cancelled' } }, deps.settings.automationTimeoutMs);
    const { result } = await recordDecidedResult(deps, await ownedRecord(deps.records, state, execution), decided);
    try {
      await deps.automations.cancel(executionId);
      logger.info('Cancelled automation run', { reason: result.reason });
      return { ...state, run: { ...run, status: 'cancelled' }, result };
    } catch (error) {
      if (!(error instanceof EpilotPermanentError)) throw error;
      logger.warn('epilot refused to cancel the run', { error: describeError(error) });
      return { ...state, result };
    }
  };
}

export const createCancelAutomationHandler = (deps: Pick<RunnerDeps, 'automations' | 'records' | 'clock' | 'settings' | 'logger'>) =>
  taskStateHandler(deps.logger, cancelAutomation(deps));
