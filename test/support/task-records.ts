import type { TaskRecord } from '../../lambdas/shared/records/task-records';

/** A task record of task-1 in wf-1, CLAIMED at attempt 1, as of `now`; tests override what they are about. */
export function aTaskRecord(overrides: Partial<TaskRecord> = {}, now = Date.now()): TaskRecord {
  return {
    pk: 'TASK#wf-1',
    sk: 'task-1',
    workflowExecutionId: 'wf-1',
    taskId: 'task-1',
    status: 'CLAIMED',
    version: 1,
    owner: 'arn:aws:states:eu-central-1:123456789012:execution:Task:wf-1-task-1-1',
    leaseUntil: now,
    attempt: 1,
    round: 1,
    flowId: 'flow-1',
    entityId: 'entity-1',
    createdAt: now - 1000,
    updatedAt: now - 1000,
    ...overrides,
  };
}
