import { type RunnerDeps, type TaskStep, taskStateHandler } from '../shared/runner-deps';
import { ownedRecord } from '../shared/owned-record';
import type { TaskRecord } from '../shared/task-records';
import { expectField, stepStatusResultSchema, type TaskResult } from '../shared/task-state';

/**
 * Writes the result to the workflow step. The record holds the result (PATCHING) before the call, so if the patch
 * fails for good, the execution that takes the task over next patches the same result instead of re-deciding it.
 */
export function patchStep(deps: Pick<RunnerDeps, 'records' | 'workflows' | 'clock' | 'settings'>): TaskStep {
  return async (state, { execution, logger }) => {
    const computed = expectField(state.result, 'result');
    const flowId = expectField(state.flowId, 'flowId');
    const task = { workflowExecutionId: state.workflowExecutionId, taskId: state.taskId };
    let record = await ownedRecord(deps.records, task, execution);
    if (record.status === 'DONE') return state;
    // Once a result is recorded (by this state, or by Cancel automation before it cancelled the run), it is the one
    // patched: every execution that finishes this task patches the same thing.
    const result = record.status === 'PATCHING' ? recordedResult(record) ?? computed : computed;
    if (record.status !== 'PATCHING') {
      const now = deps.clock.now();
      record = await deps.records.replace(record, {
        ...record,
        status: 'PATCHING',
        stepStatus: result.stepStatus,
        automationStatus: result.automationStatus,
        reason: result.reason,
        leaseUntil: now + deps.settings.claimLeaseMs,
        updatedAt: now,
      });
    }
    const runId = state.run?.executionId ?? record.automationExecutionId;
    await deps.workflows.completeTask(state.workflowExecutionId, state.taskId, {
      status: result.stepStatus,
      flowId,
      runId,
      runStatus: result.automationStatus,
      reason: result.reason,
    });
    const now = deps.clock.now();
    await deps.records.replace(record, { ...record, status: 'DONE', finishedAt: now, updatedAt: now, leaseUntil: now });
    logger.info('Patched workflow step', { stepStatus: result.stepStatus, automationExecutionId: runId, reason: result.reason });
    return { ...state, result };
  };
}

function recordedResult(record: TaskRecord): TaskResult | undefined {
  const stepStatus = stepStatusResultSchema.safeParse(record.stepStatus);
  if (!stepStatus.success) return undefined;
  return { stepStatus: stepStatus.data, automationStatus: record.automationStatus, reason: record.reason ?? '' };
}

export const createPatchStepHandler = (deps: Pick<RunnerDeps, 'records' | 'workflows' | 'clock' | 'settings' | 'logger'>) =>
  taskStateHandler(deps.logger, patchStep(deps));
