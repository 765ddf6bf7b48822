import { RecordConflictError } from '../shared/errors';
import { type RunnerDeps, type TaskContext, type TaskStep, taskStateHandler } from '../shared/runtime/runner-deps';
import { claim, close, heldByAnotherExecution } from '../shared/domain/task-lifecycle';
import { expectField, type TaskState } from '../shared/domain/task-state';

/**
 * Takes the task's record for this execution, or learns that another execution holds it. A record (or step) that
 * already names an automation run makes this execution adopt the run instead of starting one. Tasks Find task
 * decided to skip pass straight through, so one Choice after this state routes every outcome. A lost race throws
 * RecordConflictError; the state's retry reads and decides again.
 */
function claimTask(deps: Pick<RunnerDeps, 'records' | 'clock' | 'settings'>): TaskStep {
  return async (state, { execution, logger }) => {
    if (state.decision?.action === 'skip') {
      await closeAbandonedRecord(state, execution, state.decision.reason, deps, logger);
      return state;
    }
    if (state.decision?.action !== 'run') return state;
    const flowId = expectField(state.flowId, 'flowId');
    const entityId = expectField(state.entityId, 'entityId');
    const record = await deps.records.get(state);
    const decision = claim({
      record,
      now: deps.clock.now(),
      owner: execution,
      attempt: state.attempt,
      workflowExecutionId: state.workflowExecutionId,
      taskId: state.taskId,
      flowId,
      entityId,
      stepRunId: state.execution?.task?.runId,
      stepStatusChangedAt: state.execution?.task?.statusChangedAt,
      leases: deps.settings,
    });
    if (decision.kind === 'skip') {
      logger.info('Task not claimed', { reason: decision.reason });
      return { ...state, decision: { action: 'skip', reason: decision.reason } };
    }
    const written = await deps.records.replace(record, decision.record);
    logger.info('Task claimed', { next: decision.next, automationExecutionId: decision.runId, attempt: written.attempt });
    return {
      ...state,
      attempt: written.attempt,
      decision:
        decision.next === 'patch'
          ? { action: 'patch', reason: 'an earlier execution decided the result but could not patch it' }
          : { action: 'run', reason: decision.next === 'adopt' ? 'adopting the run already started' : 'starting a run' },
      run:
        decision.runId === undefined
          ? undefined
          : {
              executionId: decision.runId,
              adopted: true,
              ...(decision.runFromStep ? { fromStep: true } : {}),
              startedAt: isoTime(written.startedAt),
              deadline: isoTime(decision.deadline),
              polls: 0,
              finished: false,
              timedOut: false,
            },
      ...(decision.result ? { result: decision.result } : {}),
    };
  };
}

function isoTime(epochMs: number | undefined): string | undefined {
  return epochMs === undefined ? undefined : new Date(epochMs).toISOString();
}

/**
 * A task that needs no run (its step is final, its workflow closed…) must not keep a record an execution left
 * unfinished: the sweep would resume it again and again, and a later round of the task would inherit it. Such a
 * record is closed as DONE, unless a live execution still holds it.
 */
async function closeAbandonedRecord(
  state: TaskState,
  execution: string,
  reason: string,
  deps: Pick<RunnerDeps, 'records' | 'clock'>,
  logger: TaskContext['logger'],
): Promise<void> {
  const record = await deps.records.get(state);
  const now = deps.clock.now();
  if (!record || record.status === 'DONE' || heldByAnotherExecution(record, execution, now)) return;
  try {
    await deps.records.replace(
      record,
      close(record, now, {
        owner: execution,
        stepStatus: state.execution?.task?.status,
        statusChangedAt: state.execution?.task?.statusChangedAt,
        reason,
      }),
    );
    logger.info('Closed a record an earlier execution left unfinished', { recordStatus: record.status, reason });
  } catch (error) {
    // Someone else changed it meanwhile: theirs to finish.
    if (!(error instanceof RecordConflictError)) throw error;
  }
}

export const createClaimTaskHandler = (deps: Pick<RunnerDeps, 'records' | 'clock' | 'settings' | 'logger'>) =>
  taskStateHandler(deps.logger, claimTask(deps));
