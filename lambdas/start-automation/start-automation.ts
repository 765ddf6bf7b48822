import { type RunnerDeps, type TaskStep, taskStateHandler } from '../shared/runtime/runner-deps';
import { ownedRecord } from '../shared/records/owned-record';
import { expectField, type TaskState } from '../shared/domain/task-state';
import type { AutomationRun } from '../shared/epilot/automation-api';
import type { TaskRecord } from '../shared/records/task-records';
import { deadlineOf, noteStartAttempt, recordRun } from '../shared/domain/task-lifecycle';

/** Runs created this long before the recorded start attempt still count as ours (clock skew between systems). */
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Starts the automation run, or adopts one. epilot's start call has no idempotency key, so the record notes the
 * attempt before the request goes out; whoever finds that note without a run id (a retry after a lost response,
 * or an execution taking over after a crash) first looks for the run this task already started.
 */
function startAutomation(deps: Pick<RunnerDeps, 'records' | 'automations' | 'clock' | 'settings'>): TaskStep {
  return async (state, { execution, logger }) => {
    if (state.run?.executionId) return state;
    const flowId = expectField(state.flowId, 'flowId');
    const entityId = expectField(state.entityId, 'entityId');
    const task = { workflowExecutionId: state.workflowExecutionId, taskId: state.taskId };

    let record = await ownedRecord(deps.records, task, execution);
    if (record.automationExecutionId) {
      return withRun(state, record, { id: record.automationExecutionId, status: record.automationStatus }, true);
    }
    if (record.startAttemptedAt !== undefined) {
      const earlier = await deps.automations.findRunsForTask({ entityId, flowId, ...task });
      const since = record.startAttemptedAt - CLOCK_SKEW_MS;
      const found = earlier.find((run) => run.createdAt === undefined || Date.parse(run.createdAt) >= since);
      if (found) {
        logger.warn('Adopting the run an earlier start attempt created', { automationExecutionId: found.id });
        return recordStartedRun(state, record, found, true);
      }
      logger.info('No run from the earlier start attempt exists; starting one');
    }
    record = await deps.records.replace(record, noteStartAttempt(record, deps.clock.now(), deps.settings));
    const run = await deps.automations.startRun({ entityId, flowId, ...task });
    logger.info('Started automation run', { automationExecutionId: run.id, automationStatus: run.status });
    return recordStartedRun(state, record, run, false);
  };

  async function recordStartedRun(state: TaskState, record: TaskRecord, run: AutomationRun, adopted: boolean) {
    const written = await deps.records.replace(record, recordRun(record, run, deps.clock.now(), deps.settings));
    return withRun(state, written, run, adopted);
  }

  function withRun(state: TaskState, record: TaskRecord, run: { id: string; status?: string | undefined }, adopted: boolean): TaskState {
    const deadline = deadlineOf(record, deps.clock.now(), deps.settings);
    return {
      ...state,
      run: {
        executionId: run.id,
        status: run.status,
        adopted,
        startedAt: record.startedAt === undefined ? undefined : new Date(record.startedAt).toISOString(),
        deadline: new Date(deadline).toISOString(),
        polls: 0,
        finished: false,
        timedOut: false,
      },
    };
  }
}

export const createStartAutomationHandler = (deps: Pick<RunnerDeps, 'records' | 'automations' | 'clock' | 'settings' | 'logger'>) =>
  taskStateHandler(deps.logger, startAutomation(deps));
