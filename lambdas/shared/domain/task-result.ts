import type { TaskRecord } from '../records/task-records';
import { stepStatusResultSchema, type TaskResult, type TaskState } from './task-state';
import type { TaskView } from './workflow-engine';

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
  const elsewhere = state.stepFinalizedElsewhere;
  // Someone else's decision stands over anything the run or the runner would say.
  if (elsewhere) {
    return {
      stepStatus: elsewhere.status,
      automationStatus: run?.status,
      reason: `the step was set ${elsewhere.status} by someone else${elsewhere.changedAt ? ` at ${elsewhere.changedAt}` : ''}${
        run?.status === 'cancelled' ? '; the run was cancelled' : ''
      }`,
      elsewhere: true,
    };
  }
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
    ...(record.resultElsewhere ? { elsewhere: true } : {}),
  };
}

/**
 * Whether a read of the step is provably stale: its status is older than epilot's stamp of this execution's own
 * IN_PROGRESS note, so the read predates the note and may hide a decision made since. Both times on epilot's clock.
 */
export function readPredatesNote(step: Pick<TaskView, 'statusChangedAt'> | undefined, stepNotedAt: string | undefined): boolean {
  const noted = stepNotedAt === undefined ? Number.NaN : Date.parse(stepNotedAt);
  return step?.statusChangedAt !== undefined && !Number.isNaN(noted) && step.statusChangedAt < noted;
}

/**
 * The step as read now, if someone else finalized it: Find task let only open steps through, so a final status
 * now is a decision made while this task's run went on. `ours` is the status this runner would patch: the same
 * status is no conflict (it may be this runner's own patch whose answer was lost), and is patched as usual.
 */
export function finalizedElsewhere(
  step: Pick<TaskView, 'status' | 'statusChangedAt'> | undefined,
  ours?: TaskResult['stepStatus'],
): NonNullable<TaskState['stepFinalizedElsewhere']> | undefined {
  const status = stepStatusResultSchema.safeParse(step?.status);
  if (!status.success || status.data === ours) return undefined;
  return {
    status: status.data,
    ...(step?.statusChangedAt === undefined ? {} : { changedAt: new Date(step.statusChangedAt).toISOString() }),
  };
}
