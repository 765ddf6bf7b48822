import type { TaskExecutionReport, TaskProgressEvent, SweepReport } from '../runner/local-runner';

export type TaskOutcome = 'patched' | 'skipped' | 'handed-over' | 'failed';

export interface TaskSummary {
  executionName: string;
  entityId: string | undefined;
  workflowExecutionId: string;
  taskId: string;
  outcome: TaskOutcome;
  reason: string | undefined;
  stepStatus: string | undefined;
  automationExecutionId: string | undefined;
  automationStatus: string | undefined;
  timedOut: boolean;
  polls: number;
  stateTransitions: number;
  lambdaInvocations: number;
  durationMs: number;
}

export function summarizeTask(report: TaskExecutionReport): TaskSummary {
  const state = report.output;
  let outcome: TaskOutcome;
  let reason: string | undefined;
  if (report.status !== 'SUCCEEDED' || !state) {
    outcome = 'failed';
    reason = `${report.error ?? 'error'}${report.cause ? `: ${report.cause}` : ''}`;
  } else if (state.error?.Error === 'OwnershipLostError') {
    outcome = 'handed-over';
    reason = state.error.Cause;
  } else if (state.decision?.action === 'skip') {
    outcome = 'skipped';
    reason = state.decision.reason;
  } else {
    outcome = 'patched';
    reason = state.result?.reason;
  }
  return {
    executionName: report.name,
    entityId: state?.entityId ?? report.input.entityId,
    workflowExecutionId: report.input.workflowExecutionId,
    taskId: report.input.taskId,
    outcome,
    reason,
    stepStatus: outcome === 'patched' ? state?.result?.stepStatus : undefined,
    automationExecutionId: state?.run?.executionId,
    automationStatus: state?.result?.automationStatus ?? state?.run?.status,
    timedOut: state?.run?.timedOut ?? false,
    polls: state?.run?.polls ?? 0,
    stateTransitions: report.stateTransitions,
    lambdaInvocations: report.lambdaInvocations,
    durationMs: report.durationMs,
  };
}

export function sweepSummaryJson(report: SweepReport) {
  const tasks = report.tasks.map(summarizeTask);
  return {
    sweep: {
      status: report.sweepStatus,
      pages: report.sweep?.page ?? 0,
      entities: report.sweep?.seen ?? 0,
      candidates: report.sweep?.candidates ?? 0,
      started: report.sweep?.started ?? 0,
      alreadyRunning: report.sweep?.alreadyRunning ?? 0,
      recentlyDone: report.sweep?.recentlyDone ?? 0,
      failedToStart: report.sweep?.failedToStart ?? 0,
      stateTransitions: report.sweepTransitions,
    },
    tasks,
    epilotCalls: report.epilotCalls,
  };
}

export function renderSummaryTable(report: SweepReport): string {
  const summary = sweepSummaryJson(report);
  const rows = summary.tasks.map((task) => [
    task.entityId ?? '-',
    task.workflowExecutionId,
    task.taskId,
    task.automationExecutionId ?? '-',
    task.outcome === 'patched'
      ? `${task.timedOut ? 'timed out, cancelled' : (task.automationStatus ?? '?')} → ${task.stepStatus ?? '?'}`
      : `${task.outcome}: ${task.reason ?? ''}`,
    String(task.polls),
    `${(task.durationMs / 1000).toFixed(1)} s`,
  ]);
  const table = formatTable(['entity', 'workflow', 'task', 'automation execution', 'automation → step', 'polls', 'duration'], rows);
  const { sweep } = summary;
  const footer =
    `${sweep.entities} entities in ${sweep.pages} page(s); ${sweep.candidates} automation task(s) found, ` +
    `${sweep.started} started, ${sweep.alreadyRunning} already running, ${sweep.recentlyDone} finished recently.`;
  return rows.length === 0 ? `No task executions ran.\n${footer}` : `${table}\n${footer}`;
}

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((width) => '─'.repeat(width))), ...rows.map(line)].join('\n');
}

/**
 * Live progress, one line per task execution: its current state and poll count. On a terminal the lines are
 * redrawn in place; elsewhere (CI, pipes) a line is printed whenever a task moves to another state.
 */
export class ProgressView {
  private readonly lines = new Map<string, string>();
  private drawn = 0;

  constructor(private readonly out: NodeJS.WriteStream) {}

  readonly update = (event: TaskProgressEvent): void => {
    const polls = event.polls === undefined ? '' : ` (${event.polls} poll${event.polls === 1 ? '' : 's'})`;
    const line = `  ${event.input.workflowExecutionId}/${event.input.taskId}: ${event.stateName}${polls}`;
    if (this.lines.get(event.executionName) === line) return;
    this.lines.set(event.executionName, line);
    if (this.out.isTTY) this.redraw();
    else this.out.write(`${line}\n`);
  };

  finish(): void {
    if (this.out.isTTY) this.redraw();
    this.out.write('\n');
  }

  private redraw(): void {
    if (this.drawn > 0) this.out.write(`\u001b[${this.drawn}A`);
    for (const line of this.lines.values()) this.out.write(`\u001b[2K${line}\n`);
    this.drawn = this.lines.size;
  }
}
