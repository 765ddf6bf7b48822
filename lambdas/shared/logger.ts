import { Logger } from '@aws-lambda-powertools/logger';

export type { Logger };

/** The Powertools service name on every log line, on AWS and on a laptop. */
export const SERVICE_NAME = 'epilot-task-runner';

export function createLogger(options: { logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT' } = {}): Logger {
  return new Logger({ serviceName: SERVICE_NAME, ...(options.logLevel ? { logLevel: options.logLevel } : {}) });
}

/** The ids an operator searches logs by; every line about a task carries them. */
export interface TaskLogKeys {
  workflowExecutionId: string;
  taskId: string;
  automationExecutionId?: string | undefined;
  stateMachineExecution?: string | undefined;
}

export function taskLogger(base: Logger, keys: TaskLogKeys): Logger {
  const persistentKeys: Record<string, string> = {
    workflowExecutionId: keys.workflowExecutionId,
    taskId: keys.taskId,
  };
  if (keys.automationExecutionId) persistentKeys.automationExecutionId = keys.automationExecutionId;
  if (keys.stateMachineExecution) persistentKeys.stateMachineExecution = keys.stateMachineExecution;
  return base.createChild({ persistentKeys });
}
