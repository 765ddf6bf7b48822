import { type RunnerDeps, type TaskStep, taskStateHandler } from '../shared/runtime/runner-deps';
import { ownedRecord } from '../shared/records/owned-record';
import { expectField, type TaskState } from '../shared/domain/task-state';
import { type AutomationRun, isTerminalAutomationStatus } from '../shared/epilot/automation-api';
import type { TaskRecord } from '../shared/records/task-records';
import type { Logger } from '../shared/logger';
import {
  deadlineOf,
  forgetEarlierRoundRun,
  isEarlierRoundRun,
  keepWaitingForStart,
  noteStartAttempt,
  ranInAnEarlierRound,
  recordRun,
} from '../shared/domain/task-lifecycle';
import { finalizedElsewhere } from '../shared/domain/task-result';
import { describeError, EpilotAuthError, InvalidEpilotDataError, StartOutcomeUnknownError } from '../shared/errors';

/**
 * Runs created this long before the recorded start attempt still count as ours (clock skew between epilot and the
 * runner, both NTP-synced on AWS). Kept short: an earlier round's run of the same task must not pass for this one's.
 */
const CLOCK_SKEW_MS = 30_000;

/**
 * What to do about a record that names no run yet. `start`: no start was attempted. After an attempt (whose
 * outcome is unknown, or it would have named a run): `adopt` the run it created if the list shows it; else `wait`
 * while the attempt could still create a run (it may be in flight, or the list may lag); else `startAgain`.
 */
export type StartDecision = { action: 'start' } | { action: 'adopt'; run: AutomationRun } | { action: 'wait' } | { action: 'startAgain' };

export function decideStart(input: {
  startAttemptedAt: number | undefined;
  now: number;
  startSettleMs: number;
  /** Matching runs of this task created since the attempt, newest first. */
  found: readonly AutomationRun[];
}): StartDecision {
  if (input.startAttemptedAt === undefined) return { action: 'start' };
  const [newest] = input.found;
  if (newest) return { action: 'adopt', run: newest };
  return input.now - input.startAttemptedAt < input.startSettleMs ? { action: 'wait' } : { action: 'startAgain' };
}

/**
 * Starts the automation run, or adopts one. epilot's start call has no idempotency key, so the record notes the
 * attempt before the request goes out; whoever finds that note without a run id (a retry after a start without a
 * definite answer, or an execution taking over after a crash) first looks for the run this task already started,
 * and starts again only once `startSettleMs` has passed since the attempt.
 */
function startAutomation(deps: Pick<RunnerDeps, 'records' | 'automations' | 'workflows' | 'clock' | 'settings'>): TaskStep {
  return async (state, { execution, logger }) => {
    const stepRunId = state.run?.fromStep ? state.run.executionId : undefined;
    const earlierRoundRun = stepRunId === undefined ? undefined : await earlierRoundRunOnStep(state, stepRunId, logger);
    if (state.run?.executionId && earlierRoundRun === undefined) return state;
    const flowId = expectField(state.flowId, 'flowId');
    const entityId = expectField(state.entityId, 'entityId');
    const task = { workflowExecutionId: state.workflowExecutionId, taskId: state.taskId };

    let record = await ownedRecord(deps.records, task, execution);
    if (earlierRoundRun !== undefined && record.automationExecutionId === earlierRoundRun) {
      logger.warn('The run the step names ended before the step was reopened: starting a run of this round', {
        automationExecutionId: earlierRoundRun,
      });
      record = await deps.records.replace(record, forgetEarlierRoundRun(record, earlierRoundRun, deps.clock.now(), deps.settings));
    }
    if (record.automationExecutionId) {
      return withRun(state, record, { id: record.automationExecutionId, status: record.automationStatus }, true);
    }
    if (record.startAttemptedAt !== undefined) {
      const { runs, unreadable } = await deps.automations
        .findRunsForTask({ entityId, flowId, ...task, createdSince: record.startAttemptedAt - CLOCK_SKEW_MS })
        .catch((error: unknown) => {
          // A run list it cannot read says nothing about the run: not a reason to fail the step (and orphan the run).
          if (error instanceof InvalidEpilotDataError) throw new StartOutcomeUnknownError(`The run list is unusable: ${error.message}`);
          // Nor a refused token: Start automation's Catch fails the step on EpilotAuthError, right for a refused start
          // (nothing ran) but not here, where the earlier attempt may have created a run.
          if (error instanceof EpilotAuthError) throw new StartOutcomeUnknownError(`The run list was refused: ${error.message}`);
          throw error;
        });
      if (unreadable > 0) logger.warn('Skipped unreadable runs in the run list', { entityId, unreadable });
      const now = deps.clock.now();
      const decision = decideStart({
        startAttemptedAt: record.startAttemptedAt,
        now,
        startSettleMs: deps.settings.startSettleMs,
        // A run of an earlier round of this task (it may have been created just before this attempt) is not this one.
        found: runs.filter((run) => !isEarlierRoundRun(record, run.id)),
      });
      const ids = { flowId, entityId, startAttemptedAt: new Date(record.startAttemptedAt).toISOString() };
      if (decision.action === 'adopt') {
        logger.warn('Adopting the run an earlier start attempt created', { ...ids, automationExecutionId: decision.run.id });
        return recordStartedRun(state, record, decision.run, true, logger);
      }
      if (decision.action === 'wait') {
        await deps.records.replace(record, keepWaitingForStart(record, now, deps.settings));
        throw new StartOutcomeUnknownError(
          `No run of the start attempt at ${ids.startAttemptedAt} is visible yet; not starting again before ` +
            `${new Date(record.startAttemptedAt + deps.settings.startSettleMs).toISOString()} (startSettleMs)`,
        );
      }
      logger.warn('No run of the earlier start attempt appeared within startSettleMs; starting again', {
        ...ids,
        startSettleMs: deps.settings.startSettleMs,
      });
    }
    record = await deps.records.replace(record, noteStartAttempt(record, deps.clock.now(), deps.settings));
    // A start without a definite answer throws StartOutcomeUnknownError; the noted attempt makes the retry look first.
    const run = await deps.automations.startRun({ entityId, flowId, ...task });
    logger.info('Started automation run', { automationExecutionId: run.id, automationStatus: run.status });
    return recordStartedRun(state, record, run, false, logger);
  };

  /** The step's run id, if that run belongs to an earlier round (see `ranInAnEarlierRound`); a failed look follows it. */
  async function earlierRoundRunOnStep(state: TaskState, runId: string, logger: Logger): Promise<string | undefined> {
    try {
      const run = await deps.automations.get(runId);
      const endedAt = Date.parse(run.updatedAt ?? run.createdAt ?? '');
      const ended = { ended: isTerminalAutomationStatus(run.status), endedAt: Number.isNaN(endedAt) ? undefined : endedAt };
      return ranInAnEarlierRound(ended, state.execution?.task?.statusChangedAt) ? runId : undefined;
    } catch (error) {
      logger.warn('Could not read the run the step names; following it', { automationExecutionId: runId, error: describeError(error) });
      return undefined;
    }
  }

  async function recordStartedRun(state: TaskState, record: TaskRecord, run: AutomationRun, adopted: boolean, logger: Logger) {
    // The record names the run first: from here on nothing starts a second one, whatever the step patch does.
    const written = await deps.records.replace(record, recordRun(record, run, deps.clock.now(), deps.settings));
    // A person may have finished the step since Find task read it: the IN_PROGRESS note would overwrite that
    // decision (epilot's PATCH has no condition), so the step is read first and left alone if it is final, or if it
    // cannot be read (the record names the run; the poller's step watch reads the step again after its window).
    // What is left is the read-to-write gap of one request.
    const read = await stepRead(state, logger);
    if (read.unreadable) return withRun(state, written, run, adopted);
    if (read.elsewhere !== undefined) {
      logger.warn('The step was finalized by someone else before its run was noted on it; not noting it', {
        automationExecutionId: run.id,
        stepStatus: read.elsewhere.status,
      });
      return { ...withRun(state, written, run, adopted), stepFinalizedElsewhere: read.elsewhere };
    }
    // The step remembers its run too, so a runner without these records (another state dir, a new stack) adopts it.
    try {
      const noted = await deps.workflows.markTaskRunning(state.workflowExecutionId, state.taskId, {
        flowId: expectField(state.flowId, 'flowId'),
        runId: run.id,
      });
      return withRun(state, written, run, adopted, noted.statusChangedAt);
    } catch (error) {
      logger.warn('Could not note the run on the step; the task record still names it', {
        automationExecutionId: run.id,
        error: describeError(error),
      });
    }
    return withRun(state, written, run, adopted);
  }

  async function stepRead(
    state: TaskState,
    logger: Logger,
  ): Promise<{ unreadable: boolean; elsewhere?: TaskState['stepFinalizedElsewhere'] }> {
    try {
      return {
        unreadable: false,
        elsewhere: finalizedElsewhere((await deps.workflows.loadTask(state.workflowExecutionId, state.taskId)).task),
      };
    } catch (error) {
      logger.warn('Could not read the step before noting its run; not noting it (the task record names the run)', {
        error: describeError(error),
      });
      return { unreadable: true };
    }
  }

  function withRun(
    state: TaskState,
    record: TaskRecord,
    run: { id: string; status?: string | undefined },
    adopted: boolean,
    stepNotedAt?: number,
  ): TaskState {
    const deadline = deadlineOf(record, deps.clock.now(), deps.settings);
    return {
      ...state,
      run: {
        executionId: run.id,
        status: run.status,
        adopted,
        startedAt: record.startedAt === undefined ? undefined : new Date(record.startedAt).toISOString(),
        deadline: new Date(deadline).toISOString(),
        ...(stepNotedAt === undefined ? {} : { stepNotedAt: new Date(stepNotedAt).toISOString() }),
        polls: 0,
        finished: false,
        timedOut: false,
      },
    };
  }
}

export const createStartAutomationHandler = (
  deps: Pick<RunnerDeps, 'records' | 'automations' | 'workflows' | 'clock' | 'settings' | 'logger'>,
) => taskStateHandler(deps.logger, startAutomation(deps));
