import { cancelAutomation } from './cancel-automation/state';
import { claimTask } from './claim-task/state';
import { detectTasks } from './detect-tasks/state';
import { fetchExecution } from './fetch-execution/state';
import { findTask } from './find-task/state';
import { getAutomationStatus } from './get-automation-status/state';
import { patchStep } from './patch-step/state';
import { startAutomation } from './start-automation/state';
import { webhookReceiver } from './webhook/state';

/**
 * Every function of the runner, each declared once in `lambdas/<folder>/state.ts`: `lib/` creates a Lambda per
 * entry and binds its needs; the local runner binds the same entries to the Task states of the synthesized
 * definitions by state name. Adding a state means a folder, an entry here, and its place in the state machine.
 */
export const TASK_FUNCTIONS = {
  fetchExecution,
  findTask,
  claimTask,
  startAutomation,
  getAutomationStatus,
  cancelAutomation,
  patchStep,
} as const;

export const SWEEP_FUNCTIONS = { detectTasks } as const;

export const WEBHOOK_FUNCTION = webhookReceiver;

export const ALL_FUNCTIONS = [...Object.values(TASK_FUNCTIONS), ...Object.values(SWEEP_FUNCTIONS), WEBHOOK_FUNCTION];
