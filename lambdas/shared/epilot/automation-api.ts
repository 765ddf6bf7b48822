import * as z from 'zod';
import type { EpilotHttp } from './http';

/** Statuses after which an automation run never changes again (epilot's ExecutionStatus enum). */
export const TERMINAL_AUTOMATION_STATUSES = ['success', 'failed', 'cancelled', 'skipped', 'hot'] as const;
export type TerminalAutomationStatus = (typeof TERMINAL_AUTOMATION_STATUSES)[number];
const RUNNING_AUTOMATION_STATUSES = ['pending', 'starting', 'in_progress', 'paused', 'scheduled'] as const;

export function isTerminalAutomationStatus(status: string): status is TerminalAutomationStatus {
  return (TERMINAL_AUTOMATION_STATUSES as readonly string[]).includes(status);
}

export function isKnownAutomationStatus(status: string): boolean {
  return isTerminalAutomationStatus(status) || (RUNNING_AUTOMATION_STATUSES as readonly string[]).includes(status);
}

// Unknown statuses stay plain strings: a status epilot adds later must keep the runner polling, not crash it.
const automationExecutionSchema = z.looseObject({
  id: z.string().min(1),
  execution_status: z.string().min(1),
  flow_id: z.string().optional(),
  entity_id: z.string().optional(),
  created_at: z.string().optional(),
  workflow_context: z
    .looseObject({
      workflow_exec_id: z.string().optional(),
      workflow_exec_task_id: z.string().optional(),
    })
    .optional(),
});

const executionListSchema = z.looseObject({ results: z.array(automationExecutionSchema) });

export interface AutomationRun {
  id: string;
  status: string;
  flowId: string | undefined;
  entityId: string | undefined;
  createdAt: string | undefined;
  workflowExecutionId: string | undefined;
  taskId: string | undefined;
}

export interface StartAutomationRequest {
  entityId: string;
  flowId: string;
  workflowExecutionId: string;
  taskId: string;
}

/** epilot's Automation API (v1 executions). */
export class AutomationApi {
  constructor(private readonly http: EpilotHttp) {}

  /**
   * Starts a run. Not retried here: epilot has no idempotency key, so a repeated start after a lost response could
   * start a second run. Callers recover by looking for the run first (`findRunsForTask`).
   */
  async startRun(request: StartAutomationRequest): Promise<AutomationRun> {
    const body = await this.http.send({
      api: 'automation',
      operation: 'startExecution',
      method: 'POST',
      path: '/v1/automation/executions',
      idempotent: false,
      body: {
        entity_id: request.entityId,
        flow_id: request.flowId,
        workflow_context: {
          workflow_exec_id: request.workflowExecutionId,
          workflow_exec_task_id: request.taskId,
          workflow_role: 'run_task_automation',
        },
      },
      schema: automationExecutionSchema,
    });
    return toRun(body);
  }

  async get(executionId: string): Promise<AutomationRun> {
    const body = await this.http.send({
      api: 'automation',
      operation: 'getExecution',
      method: 'GET',
      path: `/v1/automation/executions/${encodeURIComponent(executionId)}`,
      idempotent: true,
      schema: automationExecutionSchema,
    });
    return toRun(body);
  }

  /** Runs this task started earlier, newest first, matched by flow and the workflow context sent at start. */
  async findRunsForTask(query: { entityId: string; flowId: string; workflowExecutionId: string; taskId: string }) {
    const body = await this.http.send({
      api: 'automation',
      operation: 'getExecutions',
      method: 'GET',
      path: '/v1/automation/executions',
      query: { entity_id: query.entityId, size: 100 },
      idempotent: true,
      schema: executionListSchema,
    });
    return (
      body.results
        .map(toRun)
        .filter(
          (run) => run.flowId === query.flowId && run.workflowExecutionId === query.workflowExecutionId && run.taskId === query.taskId,
        )
        // epilot's list order is not specified; an earlier round's run must not come before this round's.
        .sort((a, b) => createdTime(b) - createdTime(a))
    );
  }

  async cancel(executionId: string): Promise<void> {
    await this.http.sendAllowingEmpty({
      api: 'automation',
      operation: 'cancelExecution',
      method: 'DELETE',
      path: `/v1/automation/executions/${encodeURIComponent(executionId)}`,
      idempotent: true,
      schema: z.unknown(),
    });
  }
}

/** For sorting newest first; a run without a readable creation time sorts last. */
function createdTime(run: AutomationRun): number {
  const time = run.createdAt === undefined ? Number.NaN : Date.parse(run.createdAt);
  return Number.isNaN(time) ? Number.MIN_SAFE_INTEGER : time;
}

function toRun(body: z.output<typeof automationExecutionSchema>): AutomationRun {
  return {
    id: body.id,
    status: body.execution_status,
    flowId: body.flow_id,
    entityId: body.entity_id,
    createdAt: body.created_at,
    workflowExecutionId: body.workflow_context?.workflow_exec_id,
    taskId: body.workflow_context?.workflow_exec_task_id,
  };
}
