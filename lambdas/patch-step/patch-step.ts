import { type RunnerDeps, type TaskStep, taskStateHandler } from '../shared/runtime/runner-deps';
import { ownedRecord } from '../shared/records/owned-record';
import { recordDecidedResult } from '../shared/domain/task-lifecycle';
import { close } from '../shared/domain/task-lifecycle';
import { expectField } from '../shared/domain/task-state';

/**
 * Writes the result to the workflow step. The record holds the result (PATCHING) before the call, so if the patch
 * fails for good, the execution that takes the task over next patches the same result instead of re-deciding it.
 */
function patchStep(deps: Pick<RunnerDeps, 'records' | 'workflows' | 'clock' | 'settings'>): TaskStep {
  return async (state, { execution, logger }) => {
    const computed = expectField(state.result, 'result');
    const flowId = expectField(state.flowId, 'flowId');
    const task = { workflowExecutionId: state.workflowExecutionId, taskId: state.taskId };
    const owned = await ownedRecord(deps.records, task, execution);
    if (owned.status === 'DONE') return state;
    // A result recorded earlier (by this state, or by Cancel automation before it cancelled the run) wins.
    const { record, result } = await recordDecidedResult(deps, owned, computed);
    const runId = state.run?.executionId ?? record.automationExecutionId;
    await deps.workflows.completeTask(state.workflowExecutionId, state.taskId, {
      status: result.stepStatus,
      flowId,
      runId,
      runStatus: result.automationStatus,
      reason: result.reason,
    });
    await deps.records.replace(record, close(record, deps.clock.now()));
    logger.info('Patched workflow step', { stepStatus: result.stepStatus, automationExecutionId: runId, reason: result.reason });
    return { ...state, result };
  };
}

export const createPatchStepHandler = (deps: Pick<RunnerDeps, 'records' | 'workflows' | 'clock' | 'settings' | 'logger'>) =>
  taskStateHandler(deps.logger, patchStep(deps));
