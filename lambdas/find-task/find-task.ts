import { type RunnerDeps, type TaskStep, taskStateHandler } from '../shared/runtime/runner-deps';
import type { TaskState } from '../shared/domain/task-state';
import { isFinalStepStatus } from '../shared/domain/workflow-engine';

export type TaskDecision = { action: 'run'; reason: string; flowId: string; entityId: string } | { action: 'skip'; reason: string };

/**
 * Whether the task needs its automation run. Every "no" ends the execution successfully with a named reason and
 * no side effect; the order matters only for which reason is reported.
 */
export function decideTask(state: TaskState): TaskDecision {
  const { execution } = state;
  if (!execution?.found) return { action: 'skip', reason: 'execution not found' };
  const { task } = execution;
  if (!task) return { action: 'skip', reason: 'task not found in the workflow execution' };
  if (task.executionType !== 'AUTOMATION') {
    return { action: 'skip', reason: `not an AUTOMATION task (${task.executionType ?? 'no execution type'})` };
  }
  if (execution.workflowStatus !== 'STARTED') {
    return { action: 'skip', reason: `workflow not STARTED (${execution.workflowStatus ?? 'no status'})` };
  }
  if (isFinalStepStatus(task.status)) return { action: 'skip', reason: `step already final (${task.status})` };
  if (!task.flowId) return { action: 'skip', reason: 'no automation flowId configured on the task' };
  const entityId = state.entityId ?? execution.entityId;
  if (!entityId) return { action: 'skip', reason: 'no entity to run the automation for' };
  return { action: 'run', reason: 'automation task is due', flowId: task.flowId, entityId };
}

function findTask(): TaskStep {
  return async (state, { logger }) => {
    const decision = decideTask(state);
    logger.info(decision.action === 'run' ? 'Task needs its automation' : 'Nothing to do for this task', {
      reason: decision.reason,
    });
    if (decision.action === 'skip') return { ...state, decision };
    return {
      ...state,
      decision: { action: 'run', reason: decision.reason },
      flowId: decision.flowId,
      entityId: decision.entityId,
    };
  };
}

export const createFindTaskHandler = (deps: Pick<RunnerDeps, 'logger'>) => taskStateHandler(deps.logger, findTask());
