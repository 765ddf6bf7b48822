import * as z from 'zod';
import { EpilotAuthError, EpilotPermanentError, EpilotRateLimitedError, StartOutcomeUnknownError, describeError } from '../errors';
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
  updated_at: z.string().optional(),
  workflow_context: z
    .looseObject({
      workflow_exec_id: z.string().optional(),
      workflow_exec_task_id: z.string().optional(),
    })
    .optional(),
});

// Items are parsed one by one (below): one odd run of another flow must not hide the run this task is looking for.
const executionListSchema = z.looseObject({ total: z.number().optional(), results: z.array(z.unknown()) });

/** Runs per page of the run list, and a bound on the pages read (an entity with more runs is not normal). */
const LIST_PAGE_SIZE = 100;
const LIST_MAX_PAGES = 50;

export interface AutomationRun {
  id: string;
  status: string;
  flowId: string | undefined;
  entityId: string | undefined;
  createdAt: string | undefined;
  /** The run's last change: for a run that ended, when it ended. */
  updatedAt?: string | undefined;
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
   * start a second run. Only a definite 4xx is a refusal (EpilotPermanentError); anything else (timeout, reset, 5xx,
   * 3xx, an empty or unusable 2xx, an unknown socket error) may have created the run, so it is a
   * StartOutcomeUnknownError and the caller looks for the run (`findRunsForTask`) before it may start again.
   */
  async startRun(request: StartAutomationRequest): Promise<AutomationRun> {
    let body: unknown;
    try {
      body = await this.http.sendAllowingEmpty({
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
        schema: z.unknown(),
      });
    } catch (error) {
      // A rate limit is retried by Step Functions no sooner than it asked (and, the attempt being noted, through
      // the run lookup): passed on by name rather than as an unknown outcome, whose retry interval ignores it.
      if (isRefusal(error) || error instanceof EpilotRateLimitedError) throw error;
      throw new StartOutcomeUnknownError(`startExecution gave no definite answer (${describeError(error)}); the run may exist`);
    }
    const parsed = automationExecutionSchema.safeParse(body);
    if (!parsed.success) {
      throw new StartOutcomeUnknownError(
        `startExecution answered 2xx with ${body === undefined ? 'an empty body' : 'an unusable body'}; the run may exist`,
      );
    }
    return toRun(parsed.data);
  }

  /** `notAfter`: see EpilotCall; the poller passes the time by which its Lambda must return. */
  async get(executionId: string, options: { notAfter?: number } = {}): Promise<AutomationRun> {
    const body = await this.http.send({
      ...options,
      api: 'automation',
      operation: 'getExecution',
      method: 'GET',
      path: `/v1/automation/executions/${encodeURIComponent(executionId)}`,
      idempotent: true,
      schema: automationExecutionSchema,
    });
    return toRun(body);
  }

  /**
   * Runs this task started since `createdSince` (epoch ms), newest first, matched by flow and the workflow context
   * sent at start. Reads every page with `include_flows=true` (epilot leaves flow automation runs out by default),
   * and drops list items it cannot read instead of failing the lookup; `unreadable` counts them for the log.
   */
  async findRunsForTask(query: {
    entityId: string;
    flowId: string;
    workflowExecutionId: string;
    taskId: string;
    createdSince: number;
  }): Promise<{ runs: AutomationRun[]; unreadable: number }> {
    const runs: AutomationRun[] = [];
    let unreadable = 0;
    for (let page = 0; page < LIST_MAX_PAGES; page++) {
      const body = await this.http.send({
        api: 'automation',
        operation: 'getExecutions',
        method: 'GET',
        path: '/v1/automation/executions',
        query: { entity_id: query.entityId, include_flows: 'true', from: page * LIST_PAGE_SIZE, size: LIST_PAGE_SIZE },
        idempotent: true,
        schema: executionListSchema,
      });
      for (const item of body.results) {
        const parsed = automationExecutionSchema.safeParse(item);
        if (parsed.success) runs.push(toRun(parsed.data));
        else unreadable++;
      }
      const read = (page + 1) * LIST_PAGE_SIZE;
      if (body.results.length < LIST_PAGE_SIZE || (body.total !== undefined && read >= body.total)) break;
    }
    return {
      runs: runs
        .filter(
          (run) =>
            run.flowId === query.flowId &&
            run.workflowExecutionId === query.workflowExecutionId &&
            run.taskId === query.taskId &&
            (run.createdAt === undefined || createdTime(run) >= query.createdSince),
        )
        // epilot's list order is not specified; an earlier round's run must not come before this round's.
        .sort((a, b) => createdTime(b) - createdTime(a)),
      unreadable,
    };
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

/**
 * A definite refusal: epilot answered 4xx (429 is transient and never reaches here as a refusal). A 401/403 is one
 * too: the start was refused before anything ran (the HTTP client has already retried it with a fresh token).
 */
function isRefusal(error: unknown): boolean {
  return error instanceof EpilotAuthError || (error instanceof EpilotPermanentError && error.status >= 400 && error.status < 500);
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
    updatedAt: body.updated_at,
    workflowExecutionId: body.workflow_context?.workflow_exec_id,
    taskId: body.workflow_context?.workflow_exec_task_id,
  };
}
