import { RecordConflictError } from '../shared/errors';
import { type RunnerDeps, type TaskContext, type TaskStep, taskStateHandler } from '../shared/runtime/runner-deps';
import { decideClaim } from '../shared/domain/task-lifecycle';
import { expectField, type TaskState } from '../shared/domain/task-state';

const CLAIM_ROUNDS = 3;

/**
 * Takes the task's record for this execution, or learns that another execution holds it. A record (or step) that
 * already names an automation run makes this execution adopt the run instead of starting one. Tasks Find task
 * decided to skip pass straight through, so one Choice after this state routes every outcome.
 */
export function claimTask(deps: Pick<RunnerDeps, 'records' | 'clock' | 'settings'>): TaskStep {
  return async (state, { execution, logger }) => {
    if (state.decision?.action === 'skip') {
      await closeAbandonedRecord(state, execution, state.decision.reason, deps, logger);
      return state;
    }
    if (state.decision?.action !== 'run') return state;
    const flowId = expectField(state.flowId, 'flowId');
    const entityId = expectField(state.entityId, 'entityId');
    for (let round = 1; ; round++) {
      const record = await deps.records.get(state);
      const now = deps.clock.now();
      const decision = decideClaim({
        record,
        now,
        owner: execution,
        attempt: state.attempt,
        workflowExecutionId: state.workflowExecutionId,
        taskId: state.taskId,
        flowId,
        entityId,
        stepRunId: state.execution?.task?.runId,
        claimLeaseMs: deps.settings.claimLeaseMs,
        automationTimeoutMs: deps.settings.automationTimeoutMs,
      });
      if (decision.kind === 'skip') {
        logger.info('Task not claimed', { reason: decision.reason });
        return { ...state, decision: { action: 'skip', reason: decision.reason } };
      }
      try {
        await deps.records.replace(record, decision.record);
      } catch (error) {
        if (error instanceof RecordConflictError && round < CLAIM_ROUNDS) continue;
        throw error;
      }
      logger.info('Task claimed', { next: decision.next, automationExecutionId: decision.runId, attempt: decision.record.attempt });
      return {
        ...state,
        owner: execution,
        attempt: decision.record.attempt,
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
                deadline: decision.deadline === undefined ? undefined : new Date(decision.deadline).toISOString(),
                polls: 0,
                finished: false,
                timedOut: false,
              },
        ...(decision.result ? { result: decision.result } : {}),
      };
    }
  };
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
  if (!record || record.status === 'DONE' || (record.owner !== execution && record.leaseUntil > now)) return;
  try {
    await deps.records.replace(record, {
      ...record,
      status: 'DONE',
      owner: execution,
      stepStatus: state.execution?.task?.status ?? record.stepStatus,
      reason: `closed without a patch: ${reason}`,
      leaseUntil: now,
      finishedAt: now,
      updatedAt: now,
    });
    logger.info('Closed a record an earlier execution left unfinished', { recordStatus: record.status, reason });
  } catch (error) {
    // Someone else changed it meanwhile: theirs to finish.
    if (!(error instanceof RecordConflictError)) throw error;
  }
}

export const createClaimTaskHandler = (deps: Pick<RunnerDeps, 'records' | 'clock' | 'settings' | 'logger'>) =>
  taskStateHandler(deps.logger, claimTask(deps));
