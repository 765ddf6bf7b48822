import { describeError } from '../shared/errors';
import { finalizedElsewhere, readPredatesNote } from '../shared/domain/task-result';
import type { RunnerDeps, TaskStep } from '../shared/runtime/runner-deps';

/**
 * Reads the step once per poll window while its run goes on: a person (or epilot) who finalizes the step meanwhile
 * has decided, so the state carries `stepFinalizedElsewhere` and "Automation finished?" sends it to Cancel
 * automation, and the step is never patched over that decision. Only after a window that ended without a finish or
 * a timeout (those go on to Patch step, which reads the step itself). A failed read says nothing about the run: the
 * next window reads again.
 */
export function watchingTheStep(deps: Pick<RunnerDeps, 'workflows' | 'settings'>, poll: TaskStep): TaskStep {
  return async (state, context) => {
    const polled = await poll(state, context);
    if (polled.run?.finished || polled.run?.timedOut) return polled;
    // A read that could outlast the Lambda (the client's three tries) waits for the next window: a Lambda killed at
    // its timeout is an error that says nothing about the run.
    const timeLeft = context.remainingTimeMs?.() ?? Number.POSITIVE_INFINITY;
    if (timeLeft < 3 * deps.settings.httpTimeoutMs + 2_000) return polled;
    try {
      const view = await deps.workflows.loadTask(state.workflowExecutionId, state.taskId);
      // A read older than this execution's own note says nothing about what happened since: the next window reads again.
      if (readPredatesNote(view.task, state.run?.stepNotedAt)) return polled;
      const stepFinalizedElsewhere = finalizedElsewhere(view.task);
      if (stepFinalizedElsewhere === undefined) return polled;
      context.logger.warn('The step was finalized by someone else while its run goes on', { stepStatus: stepFinalizedElsewhere.status });
      return { ...polled, stepFinalizedElsewhere };
    } catch (error) {
      context.logger.warn('Could not read the step between poll windows; reading it again after the next', {
        error: describeError(error),
      });
      return polled;
    }
  };
}
