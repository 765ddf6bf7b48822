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

/** How a patched task's automation ended, as the summary table and `serve`'s per-task line say it. */
export function automationText(task: TaskSummary): string {
  return task.timedOut ? 'timed out, cancelled' : (task.automationStatus ?? '?');
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

/** Output is laid out for a terminal this wide: the common default, and what a narrow split pane still has. */
const TERMINAL_WIDTH = 100;

/** Characters of an automation execution id shown in the table (like a short commit hash); `--json` has them whole. */
const SHORT_ID = 8;

export function renderSummaryTable(report: SweepReport): string {
  const summary = sweepSummaryJson(report);
  const rows = summary.tasks.map((task) => [
    task.workflowExecutionId,
    task.taskId,
    task.automationExecutionId?.slice(0, SHORT_ID) ?? '-',
    task.outcome === 'patched' ? `${automationText(task)} → ${task.stepStatus ?? '?'}` : `${task.outcome}: ${task.reason ?? ''}`,
    String(task.polls),
    `${(task.durationMs / 1000).toFixed(1)} s`,
  ]);
  const table = formatTable(['workflow', 'task', 'run', 'automation → step', 'polls', 'time'], rows, TERMINAL_WIDTH);
  const { sweep } = summary;
  const footer = wrap(
    `${sweep.entities} entities (${sweep.pages} page(s)); ${sweep.candidates} automation task(s): ` +
      `${sweep.started} started, ${sweep.alreadyRunning} already running, ${sweep.recentlyDone} finished recently.`,
    TERMINAL_WIDTH,
  ).join('\n');
  return rows.length === 0 ? `No task executions ran.\n${footer}` : `${table}\n${footer}`;
}

const GAP = 2;

/**
 * Columns padded to their widest cell. With `maxWidth`, the widest columns are narrowed (never below their
 * header) until the table fits, and their cells wrap onto further lines of the same row.
 */
export function formatTable(header: string[], rows: string[][], maxWidth?: number): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const total = () => widths.reduce((sum, width) => sum + width, 0) + GAP * (widths.length - 1);
  while (maxWidth !== undefined && total() > maxWidth) {
    const narrowable = widths.map((width, column) => (width > (header[column] ?? '').length ? width : 0));
    const widest = Math.max(...narrowable);
    if (widest === 0) break;
    widths[narrowable.indexOf(widest)] = widest - 1;
  }
  const lines = (cells: string[]) => {
    const wrapped = cells.map((cell, column) => wrap(cell, widths[column] ?? cell.length));
    const height = Math.max(...wrapped.map((cellLines) => cellLines.length));
    return Array.from({ length: height }, (_, index) =>
      wrapped
        .map((cellLines, column) => (cellLines[index] ?? '').padEnd(widths[column] ?? 0))
        .join(' '.repeat(GAP))
        .trimEnd(),
    );
  };
  return [...lines(header), ...lines(widths.map((width) => '─'.repeat(width))), ...rows.flatMap(lines)].join('\n');
}

/** `text` in lines of at most `width` characters, broken at spaces where it can be, inside a word where not. */
export function wrap(text: string, width: number): string[] {
  if (text.length <= width) return [text];
  const result: string[] = [];
  let current = '';
  for (const word of text.split(' ')) {
    let rest = word;
    while (rest.length > width) {
      if (current) result.push(current);
      result.push(rest.slice(0, width));
      rest = rest.slice(width);
      current = '';
    }
    const joined = current ? `${current} ${rest}` : rest;
    if (joined.length <= width) current = joined;
    else {
      result.push(current);
      current = rest;
    }
  }
  if (current || result.length === 0) result.push(current);
  return result;
}

/**
 * Live progress, one line per task execution: its current state and poll count. On a terminal the lines are
 * redrawn in place; elsewhere (CI, pipes) a line is printed whenever a task moves to another state. One view
 * serves any number of sweeps, each ended by `finish`.
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

  /**
   * Ends this sweep's lines. The view forgets them, so the next sweep's progress is drawn below this sweep's table
   * instead of moving the cursor up over it.
   */
  finish(): void {
    if (this.out.isTTY) this.redraw();
    this.out.write('\n');
    this.lines.clear();
    this.drawn = 0;
  }

  private redraw(): void {
    if (this.drawn > 0) this.out.write(`\u001b[${this.drawn}A`);
    for (const line of this.lines.values()) this.out.write(`\u001b[2K${line}\n`);
    this.drawn = this.lines.size;
  }
}
