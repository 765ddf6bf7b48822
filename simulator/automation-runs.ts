import * as z from 'zod';
import type { FlowOutcome, FlowSeed } from './seed';

/**
 * Automation runs. A run's status is never stored: it is derived from `now - createdAt` and the timing its
 * flow had when the run started, so there are no timers and a scaled or fake clock moves runs along.
 */

export type ExecutionStatus =
  'pending' | 'starting' | 'in_progress' | 'paused' | 'scheduled' | 'success' | 'failed' | 'cancelled' | 'skipped' | 'hot';
const TERMINAL: ReadonlySet<ExecutionStatus> = new Set<ExecutionStatus>(['success', 'failed', 'cancelled', 'skipped', 'hot']);

function isTerminalStatus(status: ExecutionStatus): boolean {
  return TERMINAL.has(status);
}

export const WorkflowContextSchema = z.looseObject({
  workflow_exec_id: z.string().min(1),
  workflow_exec_task_id: z.string().min(1).optional(),
  workflow_role: z.enum(['trigger_workflow', 'run_task_automation']),
});
export type WorkflowContext = z.infer<typeof WorkflowContextSchema>;

/** StartExecutionRequest: no `additionalProperties: false` in the definition, so extra keys are accepted. */
export const StartExecutionBodySchema = z.looseObject({
  entity_id: z.string().min(1),
  flow_id: z.string().min(1),
  workflow_context: WorkflowContextSchema.optional(),
  flow_execution_id: z.string().optional(),
  flow_automation_task_id: z.string().optional(),
});
export type StartExecutionBody = z.infer<typeof StartExecutionBodySchema>;

export interface RunState {
  id: string;
  flowId: string;
  flowName: string;
  actionName: string;
  entityId: string;
  orgId: string;
  workflowContext: WorkflowContext | undefined;
  createdAt: number;
  cancelledAt: number | undefined;
  outcome: FlowOutcome;
  pendingMs: number;
  durationMs: number;
}

export function newRun(fields: {
  id: string;
  flow: FlowSeed;
  entityId: string;
  orgId: string;
  workflowContext: WorkflowContext | undefined;
  createdAt: number;
}): RunState {
  const { flow } = fields;
  return {
    id: fields.id,
    flowId: flow.id,
    flowName: flow.name,
    actionName: flow.actionName ?? `${flow.name}: action`,
    entityId: fields.entityId,
    orgId: fields.orgId,
    workflowContext: fields.workflowContext,
    createdAt: fields.createdAt,
    cancelledAt: undefined,
    outcome: flow.outcome,
    pendingMs: flow.pendingMs,
    durationMs: flow.durationMs,
  };
}

/** Status and the time it was entered. */
export function runStatusAt(run: RunState, now: number): { status: ExecutionStatus; since: number } {
  const inProgressFrom = run.createdAt + run.pendingMs;
  const finishedAt = inProgressFrom + run.durationMs;
  if (run.cancelledAt !== undefined && now >= run.cancelledAt) return { status: 'cancelled', since: run.cancelledAt };
  // A "hot" flow was auto-disabled: nothing ever runs, the run is terminal from the start.
  if (run.outcome === 'hot') return { status: 'hot', since: run.createdAt };
  if (now < inProgressFrom) return { status: 'pending', since: run.createdAt };
  if (run.outcome === 'never' || now < finishedAt) return { status: 'in_progress', since: inProgressFrom };
  return { status: run.outcome, since: finishedAt };
}

/** Marks a non-terminal run cancelled; a finished run is left as it is. */
export function cancelRun(run: RunState, now: number): void {
  if (run.cancelledAt === undefined && !isTerminalStatus(runStatusAt(run, now).status)) run.cancelledAt = now;
}

/** The AutomationExecution body. `forceStatus` lets the start response say `pending`, as the real API does. */
export function runToApi(run: RunState, now: number, forceStatus?: ExecutionStatus): Record<string, unknown> {
  const { status, since } = forceStatus ? { status: forceStatus, since: run.createdAt } : runStatusAt(run, now);
  const actionId = `${run.id}:action-1`;
  const action: Record<string, unknown> = {
    id: actionId,
    flow_action_id: `${run.flowId}:action-1`,
    name: run.actionName,
    type: 'trigger-webhook',
    execution_status: status,
  };
  if (status !== 'pending' && status !== 'hot') action.started_at = iso(run.createdAt + run.pendingMs);
  action.updated_at = iso(since);
  if (status === 'failed')
    action.error_output = { error_code: 'TRIGGER_WEBHOOK_ERROR', error_reason: 'Simulated failure of the automation action' };
  if (status === 'skipped') action.reason = { message: 'Simulated skip: the action condition was not met' };
  const body: Record<string, unknown> = {
    id: run.id,
    execution_status: status,
    entity_id: run.entityId,
    org_id: run.orgId,
    flow_id: run.flowId,
    flow_name: run.flowName,
    created_at: iso(run.createdAt),
    updated_at: iso(since),
    current_action_id: actionId,
    actions: [action],
    trigger_context: { entity_id: run.entityId },
  };
  if (run.workflowContext) body.workflow_context = run.workflowContext;
  return body;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
