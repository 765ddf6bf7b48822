import { OwnershipLostError } from '../errors';
import type { TaskKey, TaskRecord, TaskRecords } from './task-records';

/** The task's record, provided this execution still holds it; otherwise whoever took it over finishes the task. */
export async function ownedRecord(records: TaskRecords, key: TaskKey, execution: string): Promise<TaskRecord> {
  const record = await records.get(key);
  if (record?.owner !== execution) {
    throw new OwnershipLostError(
      `Task ${key.workflowExecutionId}/${key.taskId} is held by ${record?.owner ?? 'nobody'}, not by ${execution}`,
    );
  }
  return record;
}
