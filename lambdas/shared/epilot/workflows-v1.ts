import * as z from 'zod';
import type { ExecutionView, PatchAnswer, TaskResultPatch, TaskView, WorkflowEngine } from '../domain/workflow-engine';
import type { EpilotHttp } from './http';

// Spellings differ between epilot's definition (camelCase) and its integration guide (snake_case); read both.
const automationConfigSchema = z.looseObject({
  flowId: z.string().nullish(),
  executionId: z.string().nullish(),
  executionStatus: z.string().nullish(),
  execution_id: z.string().nullish(),
  execution_status: z.string().nullish(),
});

const stepSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string().nullish(),
  type: z.string().nullish(),
  status: z.string().nullish(),
  executionType: z.string().nullish(),
  execution_type: z.string().nullish(),
  automationConfig: automationConfigSchema.nullish(),
  lastUpdated: z.string().nullish(),
  statusLastUpdated: z.string().nullish(),
});
type Step = z.output<typeof stepSchema>;

// The definition's own example omits `type`, so a section is recognised by its `steps` array.
const flowItemSchema = z.union([z.looseObject({ id: z.string().optional(), steps: z.array(stepSchema) }), stepSchema]);

const executionSchema = z.looseObject({
  id: z.string().min(1),
  status: z.string().nullish(),
  entity_id: z.string().nullish(),
  contexts: z.array(z.looseObject({ id: z.string().min(1) })).nullish(),
  flow: z.array(flowItemSchema).default([]),
});

/** epilot Workflows Executions API v1 (`/v1/workflows/executions`). */
export class WorkflowsV1Engine implements WorkflowEngine {
  constructor(
    private readonly http: EpilotHttp,
    private readonly options: { sendErrorObject?: boolean } = {},
  ) {}

  async loadTask(workflowExecutionId: string, taskId: string): Promise<ExecutionView> {
    const execution = await this.http.sendAllowingEmpty({
      api: 'workflow',
      operation: 'getExecution',
      method: 'GET',
      path: `/v1/workflows/executions/${encodeURIComponent(workflowExecutionId)}`,
      idempotent: true,
      schema: executionSchema,
    });
    // A missing execution comes back as 200 with an empty body.
    if (execution === undefined) return { found: false };
    const step = findStep(execution.flow, taskId);
    return {
      found: true,
      workflowStatus: execution.status ?? undefined,
      entityId: execution.contexts?.[0]?.id ?? execution.entity_id ?? undefined,
      task: step ? toTaskView(step) : undefined,
    };
  }

  async markTaskRunning(workflowExecutionId: string, taskId: string, run: { flowId: string; runId: string }): Promise<PatchAnswer> {
    const answer = await this.updateStep(workflowExecutionId, taskId, {
      status: 'IN_PROGRESS',
      automationConfig: { flowId: run.flowId, executionId: run.runId },
    });
    return stampOf(answer, 'IN_PROGRESS');
  }

  async completeTask(workflowExecutionId: string, taskId: string, patch: TaskResultPatch): Promise<PatchAnswer> {
    const answer = await this.updateStep(workflowExecutionId, taskId, {
      status: patch.status,
      automationConfig: {
        flowId: patch.flowId,
        ...(patch.runId ? { executionId: patch.runId } : {}),
        ...(patch.runStatus ? { executionStatus: patch.runStatus } : {}),
      },
      // The definition has no failure field; the guide's `error` object is sent only where a user opts in.
      ...(this.options.sendErrorObject && patch.status === 'FAILED' && patch.reason
        ? { error: { message: patch.reason, code: 'AUTOMATION_FAILED' } }
        : {}),
    });
    return stampOf(answer, patch.status);
  }

  private async updateStep(workflowExecutionId: string, taskId: string, body: Record<string, unknown>): Promise<unknown> {
    return this.http.sendAllowingEmpty({
      api: 'workflow',
      operation: 'updateStep',
      method: 'PATCH',
      path: `/v1/workflows/executions/${encodeURIComponent(workflowExecutionId)}/steps/${encodeURIComponent(taskId)}`,
      // Repeating it changes nothing, but it is never repeated here: it follows a read of the step (a person's
      // decision must not be overwritten), and the caller's retry reads the step again first.
      idempotent: true,
      once: true,
      body,
      schema: z.unknown(),
    });
  }
}

function findStep(flow: ReadonlyArray<z.output<typeof flowItemSchema>>, taskId: string): Step | undefined {
  for (const item of flow) {
    const steps: Step[] = 'steps' in item && Array.isArray(item.steps) ? (item.steps as Step[]) : [item as Step];
    const step = steps.find((candidate) => candidate.id === taskId);
    if (step) return step;
  }
  return undefined;
}

/** Only an answer that shows the status just written stamps it; anything else (empty, odd) says nothing. */
function stampOf(answer: unknown, status: string): PatchAnswer {
  const step = stepSchema.safeParse(answer);
  // The answer shows the step just after this write, so its last update, if nothing else, is this status change.
  return step.success && step.data.status === status ? { statusChangedAt: statusChangedAt(step.data) } : {};
}

function toTaskView(step: Step): TaskView {
  const config = step.automationConfig ?? undefined;
  return {
    id: step.id,
    name: step.name ?? undefined,
    status: step.status ?? undefined,
    executionType: step.executionType ?? step.execution_type ?? undefined,
    flowId: config?.flowId ?? undefined,
    runId: config?.executionId ?? config?.execution_id ?? undefined,
    runStatus: config?.executionStatus ?? config?.execution_status ?? undefined,
    statusChangedAt: statusChangedAt(step),
  };
}

/**
 * `statusLastUpdated`; a step whose status never changed has none, and then `lastUpdated` (any change) is the
 * closest evidence. An unreadable time counts as none.
 */
function statusChangedAt(step: Step): number | undefined {
  for (const time of [step.statusLastUpdated, step.lastUpdated]) {
    const parsed = time ? Date.parse(time) : Number.NaN;
    if (!Number.isNaN(parsed)) return parsed;
  }
  return undefined;
}
