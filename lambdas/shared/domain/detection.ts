import { parseWorkflowSummary, type SearchedEntity } from '../epilot/entity-api';

/** A workflow task that, by an entity's workflow context, is waiting for its automation. */
export interface TaskCandidate {
  workflowExecutionId: string;
  taskId: string;
  entityId: string;
}

/**
 * The one detection rule, shared by the sweep and the webhook: a STARTED workflow whose current task runs as
 * AUTOMATION. The summary may be stale; the task execution re-reads the workflow before acting.
 */
export function detectAutomationTasks(entity: SearchedEntity): TaskCandidate[] {
  const candidates = new Map<string, TaskCandidate>();
  for (const value of Object.values(entity.workflows ?? {})) {
    // Definition ids map to arrays of summaries; `primary` is a single summary that repeats one of them.
    for (const item of Array.isArray(value) ? value : [value]) {
      const summary = parseWorkflowSummary(item);
      if (summary?.status !== 'STARTED' || summary.task_execution_type !== 'AUTOMATION' || !summary.task_id) continue;
      const key = `${summary.id}/${summary.task_id}`;
      candidates.set(key, { workflowExecutionId: summary.id, taskId: summary.task_id, entityId: entity._id });
    }
  }
  return [...candidates.values()];
}
