import type { TaskRecord } from '../records/task-records';
import { stepStatusResultSchema, type TaskResult, type TaskState } from './task-state';

/**
 * The step result: decided once from the state (`decideResult`), recorded before any side effect that ends the run
 * or patches the step (`recordDecidedResult` in task-lifecycle.ts), and read back from the record one way (`recordedResult`).
 */

/** The guide's mapping from a finished automation run to the workflow step's status. */
const STEP_STATUS_BY_AUTOMATION_STATUS = {
  success: 'COMPLETED',
  failed: 'FAILED',
  skipped: 'SKIPPED',
  cancelled: 'SKIPPED',
  hot: 'FAILED',
} as const satisfies Record<string, TaskResult['stepStatus']>;

export function decideResult(state: TaskState, timeoutMs: number): TaskResult {
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

/** The result a PATCHING record holds: the one every execution finishing the task must patch. */
export function recordedResult(record: TaskRecord): TaskResult | undefined {
  if (record.status !== 'PATCHING') return undefined;
  const stepStatus = stepStatusResultSchema.safeParse(record.stepStatus);
  if (!stepStatus.success) return undefined;
  return {
    stepStatus: stepStatus.data,
    automationStatus: record.automationStatus,
    reason: record.reason ?? 'finishing a patch an earlier execution could not complete',
  };
}
