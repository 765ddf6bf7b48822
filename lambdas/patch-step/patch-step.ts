import { type RunnerDeps, type TaskStep, taskStateHandler } from '../shared/runtime/runner-deps';
import { ownedRecord } from '../shared/records/owned-record';
import { close, recordDecidedResult } from '../shared/domain/task-lifecycle';
import { decideResult, finalizedElsewhere, readPredatesNote } from '../shared/domain/task-result';
import { expectField, type TaskResult, type TaskState } from '../shared/domain/task-state';
import { EpilotTransientError, InvalidStateInputError } from '../shared/errors';

/**
 * Decides the step result (unless Cancel automation or an earlier execution already recorded one: that one stands)
 * and writes it to the workflow step. Deciding here rather than in a state of its own saves a Lambda invocation and
 * two transitions between a run's end and its patch. The record holds the result (PATCHING) before the call, so if
 * the patch fails for good, the execution that takes the task over next patches the same result instead of
 * re-deciding it. The step is read again first: a status someone else set meanwhile (a person, epilot) stands, and
 * the record is closed naming it, without a patch.
 */
function patchStep(deps: Pick<RunnerDeps, 'records' | 'workflows' | 'clock' | 'settings'>): TaskStep {
  return async (state, { execution, logger }) => {
    // Without a run or an error there is nothing to decide from: a malformed input, not a FAILED step.
    const computed = state.result ?? decideResult(expectRunOrError(state), deps.settings.automationTimeoutMs);
    const flowId = expectField(state.flowId, 'flowId');
    const task = { workflowExecutionId: state.workflowExecutionId, taskId: state.taskId };
    const owned = await ownedRecord(deps.records, task, execution);
    if (owned.status === 'DONE') return state;
    // A result recorded earlier (by this state, or by Cancel automation before it cancelled the run) wins. It is
    // recorded before the step is read, so nothing but the PATCH itself comes between the read and the write.
    const { record, result: ours } = await recordDecidedResult(deps, owned, computed);
    const decided = ours.elsewhere
      ? { result: ours, changedAt: state.stepFinalizedElsewhere?.changedAt }
      : await decidedElsewhere(state, ours);
    if (decided) {
      const elsewhere = decided.result;
      const changedAt = decided.changedAt === undefined ? Number.NaN : Date.parse(decided.changedAt);
      await deps.records.replace(
        record,
        close(record, deps.clock.now(), {
          owner: execution,
          stepStatus: elsewhere.stepStatus,
          ...(Number.isNaN(changedAt) ? {} : { statusChangedAt: changedAt }),
          reason: elsewhere.reason,
        }),
      );
      logger.warn('The step was finalized by someone else; not patching it', {
        stepStatus: elsewhere.stepStatus,
        reason: elsewhere.reason,
      });
      return { ...state, result: elsewhere };
    }
    const result = ours;
    const runId = state.run?.executionId ?? record.automationExecutionId;
    const answer = await deps.workflows.completeTask(state.workflowExecutionId, state.taskId, {
      status: result.stepStatus,
      flowId,
      runId,
      runStatus: result.automationStatus,
      reason: result.reason,
    });
    await deps.records.replace(record, close(record, deps.clock.now(), answer));
    logger.info('Patched workflow step', { stepStatus: result.stepStatus, automationExecutionId: runId, reason: result.reason });
    return { ...state, result };
  };

  /** The result to keep (and when epilot says it was set) when the step, read fresh, shows a final status other than ours. */
  async function decidedElsewhere(state: TaskState, ours: TaskResult): Promise<{ result: TaskResult; changedAt?: string } | undefined> {
    const view = await deps.workflows.loadTask(state.workflowExecutionId, state.taskId);
    if (readPredatesNote(view.task, state.run?.stepNotedAt)) {
      throw new EpilotTransientError(
        `The step read shows a status older than this execution's IN_PROGRESS note (${state.run?.stepNotedAt ?? ''}): a stale read, which may hide a decision made since; reading it again before patching`,
      );
    }
    const stepFinalizedElsewhere = finalizedElsewhere(view.task, ours.stepStatus);
    if (stepFinalizedElsewhere === undefined) return undefined;
    return {
      result: decideResult({ ...state, stepFinalizedElsewhere }, deps.settings.automationTimeoutMs),
      ...(stepFinalizedElsewhere.changedAt === undefined ? {} : { changedAt: stepFinalizedElsewhere.changedAt }),
    };
  }
}

function expectRunOrError(state: TaskState): TaskState {
  if (state.run === undefined && state.error === undefined) {
    throw new InvalidStateInputError('Patch step needs a result, a run or an error');
  }
  return state;
}

export const createPatchStepHandler = (deps: Pick<RunnerDeps, 'records' | 'workflows' | 'clock' | 'settings' | 'logger'>) =>
  taskStateHandler(deps.logger, patchStep(deps));
