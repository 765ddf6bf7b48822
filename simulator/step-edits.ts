import type { RunState } from './automation-runs';
import type { FaultOptions } from './faults';
import type { UpdateStepBody, WorkflowExecutionState } from './workflows';

/**
 * Edits that people and epilot make to steps on their own (fault modes `personFinalizesStep` and
 * `reopenStepAfterFinalPatch`), scheduled on the simulator's clock and applied, stamped with their own time, before
 * the next request is served or the state is inspected. They go through the step's own update, as epilot's UI
 * would, but are not PATCH requests.
 */

interface ScheduledEdit {
  at: number;
  executionId: string;
  stepId: string;
  body: UpdateStepBody;
  /** Applied only if the step's status is final (a reopen) or open (a person finishing it) at that time. */
  when: 'final' | 'open';
}

export class ScheduledStepEdits {
  private pending: ScheduledEdit[] = [];
  private readonly reopens = new Map<string, number>();

  constructor(private readonly executions: ReadonlyMap<string, WorkflowExecutionState>) {}

  /** A person finishes the step of a run just started for a workflow task, while the run goes on. */
  afterRunStarted(run: RunState, option: FaultOptions['personFinalizesStep']): void {
    const executionId = run.workflowContext?.workflow_exec_id;
    const stepId = run.workflowContext?.workflow_exec_task_id;
    if (!option || executionId === undefined || stepId === undefined) return;
    this.schedule({ at: run.createdAt + option.afterMs, executionId, stepId, body: { status: option.status }, when: 'open' });
  }

  /** epilot reopens an AUTOMATION step a PATCH made final (keeping its automationConfig), a bounded number of times. */
  afterPatch(executionId: string, stepId: string, now: number, draw: () => FaultOptions['reopenStepAfterFinalPatch']): void {
    const execution = this.executions.get(executionId);
    if (!execution?.isFinalAutomationStep(stepId)) return;
    const key = `${executionId}/${stepId}`;
    const done = this.reopens.get(key) ?? 0;
    // Drawn only for a final automation step that may still be reopened, so other PATCHes leave the sequence alone.
    const option = draw();
    if (!option || done >= (option.times ?? 1)) return;
    this.reopens.set(key, done + 1);
    this.schedule({ at: now + option.afterMs, executionId, stepId, body: { status: option.status ?? 'PENDING' }, when: 'final' });
  }

  /** Applies every edit due by `now`, oldest first. */
  applyDue(now: number): void {
    while (this.pending[0] && this.pending[0].at <= now) {
      const edit = this.pending.shift();
      if (!edit) break;
      const execution = this.executions.get(edit.executionId);
      if (execution?.isFinalAutomationStep(edit.stepId) !== (edit.when === 'final')) continue;
      execution.patchStep(edit.stepId, edit.body, edit.at, 'epilot');
    }
  }

  private schedule(edit: ScheduledEdit): void {
    this.pending.push(edit);
    this.pending.sort((a, b) => a.at - b.at);
  }
}
