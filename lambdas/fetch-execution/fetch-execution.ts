import { type RunnerDeps, type TaskStep, taskStateHandler } from '../shared/runtime/runner-deps';

/** Reads the workflow execution fresh and keeps only the task this execution is about. */
function fetchExecution(deps: Pick<RunnerDeps, 'workflows'>): TaskStep {
  return async (state, { logger }) => {
    const execution = await deps.workflows.loadTask(state.workflowExecutionId, state.taskId);
    logger.info('Fetched workflow execution', {
      found: execution.found,
      workflowStatus: execution.workflowStatus,
      taskStatus: execution.task?.status,
    });
    return { ...state, execution };
  };
}

export const createFetchExecutionHandler = (deps: Pick<RunnerDeps, 'workflows' | 'logger'>) =>
  taskStateHandler(deps.logger, fetchExecution(deps));
