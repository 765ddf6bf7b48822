import type { Context } from 'aws-lambda';
import type { Clock } from '../clock';
import type { AutomationApi } from '../epilot/automation-api';
import type { EntityApi } from '../epilot/entity-api';
import { describeError } from '../errors';
import { type Logger, taskLogger } from '../logger';
import type { RunnerSettings } from '../config/settings';
import type { TaskExecutionStarter } from '../domain/task-starter';
import type { TaskRecords } from '../records/task-records';
import { parseTaskEvent, type TaskState } from '../domain/task-state';
import type { WorkflowEngine } from '../domain/workflow-engine';

/**
 * Everything a state's logic may use. Lambdas build the parts they need from their environment; the local runner
 * builds all of them against a simulator or real epilot and an embedded DynamoDB. The logic is the same code.
 */
export interface RunnerDeps {
  settings: RunnerSettings;
  clock: Clock;
  logger: Logger;
  workflows: WorkflowEngine;
  automations: AutomationApi;
  entities: EntityApi;
  records: TaskRecords;
  starter: TaskExecutionStarter;
}

export interface TaskContext {
  /** The Step Functions execution running this task; it owns the task's record. */
  execution: string;
  logger: Logger;
  /** The Lambda's remaining time (its context's getRemainingTimeInMillis), when it runs as a Lambda. */
  remainingTimeMs?: (() => number) | undefined;
}

export type TaskStep = (state: TaskState, context: TaskContext) => Promise<TaskState>;

/**
 * The thin handler every task state shares: validate `{state, execution}`, log with the task's ids, run the step.
 * Errors are logged with those ids and re-thrown unchanged, so Step Functions still matches them by name.
 */
export function taskStateHandler(
  baseLogger: Logger,
  step: TaskStep,
): (event: unknown, lambdaContext?: Pick<Context, 'getRemainingTimeInMillis'>) => Promise<TaskState> {
  return async (event, lambdaContext) => {
    const { state, execution } = parseTaskEvent(event);
    const logger = taskLogger(baseLogger, {
      workflowExecutionId: state.workflowExecutionId,
      taskId: state.taskId,
      automationExecutionId: state.run?.executionId,
      stateMachineExecution: execution,
    });
    try {
      return await step(state, { execution, logger, remainingTimeMs: lambdaContext && (() => lambdaContext.getRemainingTimeInMillis()) });
    } catch (error) {
      logger.error('State failed', { error: describeError(error) });
      throw error;
    }
  };
}
