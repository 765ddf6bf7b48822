import type { RunnerDeps } from '../runtime/runner-deps';
import type { TaskRecord } from '../records/task-records';
import { stepStatusResultSchema, type TaskResult } from './task-state';

/**
 * Puts the step result this execution decided into the task record (PATCHING) before anything that ends the run
 * or patches the step. Once recorded, that result is the one every execution finishing the task patches, so a
 * crash between the side effect and the patch cannot change it. Returns the record as written and the result to
 * patch (the one recorded earlier, if any).
 */
export async function recordDecidedResult(
  deps: Pick<RunnerDeps, 'records' | 'clock' | 'settings'>,
  record: TaskRecord,
  result: TaskResult,
): Promise<{ record: TaskRecord; result: TaskResult }> {
  if (record.status === 'PATCHING') return { record, result: decidedResult(record) ?? result };
  const now = deps.clock.now();
  const written = await deps.records.replace(record, {
    ...record,
    status: 'PATCHING',
    stepStatus: result.stepStatus,
    automationStatus: result.automationStatus,
    reason: result.reason,
    leaseUntil: now + deps.settings.claimLeaseMs,
    updatedAt: now,
  });
  return { record: written, result };
}

function decidedResult(record: TaskRecord): TaskResult | undefined {
  const stepStatus = stepStatusResultSchema.safeParse(record.stepStatus);
  if (!stepStatus.success) return undefined;
  return { stepStatus: stepStatus.data, automationStatus: record.automationStatus, reason: record.reason ?? '' };
}
