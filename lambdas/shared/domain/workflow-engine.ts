/**
 * What the pipeline needs from a workflow engine, in the engine's own neutral terms. Everything specific to one
 * epilot workflow API (paths, field spellings, sections) lives in that engine's module; epilot Flows v2 will be a
 * second implementation beside `epilot/workflows-v1.ts`.
 */

export const FINAL_STEP_STATUSES = ['COMPLETED', 'SKIPPED', 'FAILED'] as const;
export type FinalStepStatus = (typeof FINAL_STEP_STATUSES)[number];

export function isFinalStepStatus(status: string | undefined): boolean {
  return status !== undefined && (FINAL_STEP_STATUSES as readonly string[]).includes(status);
}

/** One task of a workflow execution, reduced to what the runner decides on (a few hundred bytes at most). */
export interface TaskView {
  id: string;
  name?: string | undefined;
  status?: string | undefined;
  executionType?: string | undefined;
  flowId?: string | undefined;
  /** The automation run epilot already records for this task, if any. */
  runId?: string | undefined;
  runStatus?: string | undefined;
  /**
   * When the task's status last changed (epoch ms), as the engine reports it: how rounds are told apart (a change
   * after this runner's last round ended means the task was reopened) and whose decision a final status is.
   */
  statusChangedAt?: number | undefined;
}

export interface ExecutionView {
  found: boolean;
  workflowStatus?: string | undefined;
  entityId?: string | undefined;
  task?: TaskView | undefined;
}

export interface TaskResultPatch {
  status: FinalStepStatus;
  flowId: string;
  runId?: string | undefined;
  runStatus?: string | undefined;
  /** Why the step failed, for engines (or settings) that accept failure detail. */
  reason?: string | undefined;
}

/**
 * What epilot said about a status patch. `statusChangedAt` is epilot's stamp of the change, on the same clock as the
 * `statusChangedAt` of later reads: a later change is someone else's however soon it comes, where the runner's own
 * clock would need a skew margin (and would take a fast loop's reopen for its own patch).
 */
export interface PatchAnswer {
  statusChangedAt?: number | undefined;
}

export interface WorkflowEngine {
  /** Reads the execution fresh and picks out one task; `found: false` when the execution does not exist. */
  loadTask(workflowExecutionId: string, taskId: string): Promise<ExecutionView>;
  /**
   * Marks the task in progress with the run started for it, so the step itself remembers the run (a runner without
   * this stack's records adopts it instead of starting another). Safe to repeat with the same values.
   */
  markTaskRunning(workflowExecutionId: string, taskId: string, run: { flowId: string; runId: string }): Promise<PatchAnswer>;
  /**
   * Writes the task's final status and automation result. Safe to repeat with the same values. Answers epilot's
   * own time stamp of the status change when its answer carries one (see `PatchAnswer`).
   */
  completeTask(workflowExecutionId: string, taskId: string, patch: TaskResultPatch): Promise<PatchAnswer>;
}
