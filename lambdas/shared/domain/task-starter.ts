import type { Clock } from '../clock';
import type { TaskCandidate } from './detection';
import { taskExecutionName } from './execution-names';
import type { Logger } from '../logger';
import { planTaskExecution } from './task-lifecycle';
import type { TaskRecords } from '../records/task-records';
import type { TaskInput } from './task-state';

/** Starts one execution of the task state machine: Step Functions on AWS, the local runner on a laptop. */
export interface TaskExecutionStarter {
  /**
   * An execution with this name that exists already (names stay taken after the execution ends) is not an error:
   * `running` when it is still at work, `ended` when it has finished.
   */
  startExecution(name: string, input: TaskInput): Promise<'started' | 'running' | 'ended'>;
}

export type StartOutcome = 'started' | 'already-running' | 'recently-done';

export interface StartedTask {
  name: string;
  outcome: StartOutcome;
  candidate: TaskCandidate;
}

/**
 * Starts a task execution for a detected candidate unless its record says one is at work or it was just finished.
 * Safe under any concurrency: two triggers that decide alike pick the same execution name, and Step Functions
 * accepts only one of them.
 */
export async function startTaskExecution(
  candidate: TaskCandidate,
  trigger: 'sweep' | 'webhook',
  deps: { records: TaskRecords; starter: TaskExecutionStarter; clock: Clock; logger: Logger; doneSettleMs: number },
): Promise<StartedTask> {
  const record = await deps.records.get(candidate);
  const plan = planTaskExecution(record, deps.clock.now(), deps.doneSettleMs);
  const name = taskExecutionName(candidate.workflowExecutionId, candidate.taskId, plan.attempt);
  const keys = { workflowExecutionId: candidate.workflowExecutionId, taskId: candidate.taskId, executionName: name };
  if (plan.kind === 'done') {
    deps.logger.debug('Task finished recently; not starting it again', keys);
    return { name, outcome: 'recently-done', candidate };
  }
  if (plan.kind === 'running') {
    deps.logger.info('Task already has a live execution', { ...keys, owner: plan.owner });
    return { name, outcome: 'already-running', candidate };
  }
  const input = { ...candidate, trigger, attempt: plan.attempt };
  let outcome = await deps.starter.startExecution(name, input);
  let startedName = name;
  if (outcome === 'ended') {
    // The record says no live execution holds the task, yet this attempt's execution ran and ended: it died
    // before its claim (an epilot outage during Fetch execution, say), leaving the record as it was. Its name stays
    // taken (90 days on Step Functions), so one more name per window lets a later trigger retry the task.
    startedName = taskExecutionName(
      candidate.workflowExecutionId,
      candidate.taskId,
      `${plan.attempt}-r${Math.floor(deps.clock.now() / RETRY_NAME_WINDOW_MS)}`,
    );
    outcome = await deps.starter.startExecution(startedName, input);
  }
  deps.logger.info(outcome === 'started' ? 'Started task execution' : 'Task execution already exists', {
    ...keys,
    executionName: startedName,
    trigger,
    automationExecutionId: record?.automationExecutionId,
  });
  return { name: startedName, outcome: outcome === 'started' ? 'started' : 'already-running', candidate };
}

/** Triggers within one window that find an attempt's name taken share one retry name. */
const RETRY_NAME_WINDOW_MS = 60_000;
