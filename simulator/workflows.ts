import * as z from 'zod';
import { SeedError, StepStatusSchema, type StepStatus, type WorkflowExecutionSeed, type StepSeed } from './seed';

/**
 * v1 workflow executions: their flow of sections and steps, the step PATCH, the served camelCase JSON, and
 * the summary the entity search shows for each entity (`workflows.<definitionId>[]`).
 */

const FINAL_STEP_STATUSES: ReadonlySet<StepStatus> = new Set<StepStatus>(['COMPLETED', 'SKIPPED', 'FAILED']);

/** A step as the API serves it; `id` and `status` typed, the rest as sent. */
export type StepView = Record<string, unknown> & { id: string; status: StepStatus };

export interface StepPatchRecord {
  /** Clock time of the patch (epoch ms). */
  at: number;
  body: UpdateStepBody;
  /** `client`: a PATCH request through the API; `epilot`: an edit made in epilot itself (a person, a loop). */
  by: 'client' | 'epilot';
}

/** How a GET reads steps: at `now`, still showing a step as before its last PATCH for `staleMs` after it. */
export interface StepRead {
  now: number;
  staleMs: number;
}

interface StepState {
  kind: 'step';
  id: string;
  name: string;
  status: StepStatus;
  executionType: 'MANUAL' | 'AUTOMATION';
  automationConfig: { flowId: string; executionId?: string; executionStatus?: string } | undefined;
  assignedTo: string[] | undefined;
  dueDate: string | undefined;
  guideSpelling: boolean;
  section: SectionState | undefined;
  created: number;
  lastUpdated: number;
  statusLastUpdated: number | undefined;
  startedTime: number | undefined;
  completedTime: number | undefined;
  patches: StepPatchRecord[];
  /** The step as served just before its last PATCH request, for stale reads. */
  beforeLastPatch: { at: number; view: Record<string, unknown> } | undefined;
}

interface SectionState {
  kind: 'section';
  id: string;
  name: string;
  omitType: boolean;
  steps: StepState[];
}

/** The summary of one workflow execution inside an entity (definition schema WorkflowInEntity). */
export interface WorkflowSummary {
  id: string;
  definition_id: string;
  name: string;
  status: 'STARTED' | 'DONE' | 'CLOSED';
  assignees: string[];
  last_update_time: string;
  progress: number;
  task_id?: string;
  task_name?: string;
  task_execution_type?: 'MANUAL' | 'AUTOMATION';
  task_status?: StepStatus;
  task_assignees?: string[];
  task_duedate?: string;
  phase_id?: string;
  phase_name?: string;
}

export interface EntityContext {
  id: string;
  title: string;
  schema: string;
}

/** PATCH body: UpdateStepReq's essentials are checked, the rest of its fields pass through. */
export const UpdateStepBodySchema = z.looseObject({
  stepId: z.string().optional(),
  status: StepStatusSchema.optional(),
  automationConfig: z
    .looseObject({
      flowId: z.string().min(1),
      executionId: z.string().optional(),
      executionStatus: z.string().optional(),
    })
    .optional(),
  name: z.string().optional(),
  assignedTo: z.array(z.string()).optional(),
  dueDate: z.string().optional(),
  startedTime: z.string().optional(),
  completedTime: z.string().optional(),
});
export type UpdateStepBody = z.infer<typeof UpdateStepBodySchema>;

export class WorkflowExecutionState {
  readonly id: string;
  readonly definitionId: string;
  readonly name: string;
  readonly entityIds: readonly string[];
  private readonly orgId: string;
  private readonly closed: boolean;
  private readonly creationTime: number;
  private lastUpdateTime: number;
  private completedTime: number | undefined;
  private readonly assignedTo: string[];
  private readonly flow: Array<SectionState | StepState>;
  private readonly steps = new Map<string, StepState>();
  /** Flow order, sections flattened: the order in which the current task is looked for. */
  private readonly orderedSteps: StepState[] = [];
  private readonly summaryLagMs: number;
  /** Summaries as they were at each change, kept only while a lag can still show them. */
  private summaryHistory: Array<{ at: number; summary: WorkflowSummary }> = [];
  private cachedSummary: WorkflowSummary | undefined;

  constructor(seed: WorkflowExecutionSeed, orgId: string, now: number) {
    this.id = seed.id;
    this.definitionId = seed.definitionId;
    this.name = seed.name;
    this.entityIds = [...seed.entityIds];
    this.orgId = orgId;
    this.closed = seed.status === 'CLOSED';
    this.creationTime = seed.creationTime ? Date.parse(seed.creationTime) : now;
    this.lastUpdateTime = this.creationTime;
    this.assignedTo = seed.assignedTo ?? [];
    this.summaryLagMs = seed.summaryLagMs;
    this.flow = seed.flow.map((item) => {
      if ('steps' in item) {
        const section: SectionState = { kind: 'section', id: item.id, name: item.name, omitType: item.omitType, steps: [] };
        section.steps = item.steps.map((step) => this.addStep(step, section));
        return section;
      }
      return this.addStep(item, undefined);
    });
    if (!this.currentStep()) this.completedTime = this.lastUpdateTime;
    if (this.summaryLagMs > 0) this.summaryHistory.push({ at: Number.NEGATIVE_INFINITY, summary: this.freshSummary() });
  }

  private addStep(seed: StepSeed, section: SectionState | undefined): StepState {
    if (this.steps.has(seed.id)) throw new SeedError(`workflow execution ${this.id}: duplicate step id ${seed.id}`);
    const step: StepState = {
      kind: 'step',
      id: seed.id,
      name: seed.name,
      status: seed.status,
      executionType: seed.executionType,
      automationConfig: seed.automationConfig ? { ...seed.automationConfig } : undefined,
      assignedTo: seed.assignedTo,
      dueDate: seed.dueDate,
      guideSpelling: seed.guideSpelling,
      section,
      created: this.creationTime,
      lastUpdated: this.creationTime,
      statusLastUpdated: undefined,
      startedTime: undefined,
      completedTime: FINAL_STEP_STATUSES.has(seed.status) ? this.creationTime : undefined,
      patches: [],
      beforeLastPatch: undefined,
    };
    this.steps.set(step.id, step);
    this.orderedSteps.push(step);
    return step;
  }

  hasStep(stepId: string): boolean {
    return this.steps.has(stepId);
  }

  /** The first step, in flow order, that is not finished. */
  currentStep(): StepState | undefined {
    return this.orderedSteps.find((step) => !FINAL_STEP_STATUSES.has(step.status));
  }

  status(): 'STARTED' | 'DONE' | 'CLOSED' {
    if (this.closed) return 'CLOSED';
    return this.currentStep() ? 'STARTED' : 'DONE';
  }

  patchStep(stepId: string, body: UpdateStepBody, now: number, by: StepPatchRecord['by'] = 'client'): Record<string, unknown> | undefined {
    const step = this.steps.get(stepId);
    if (!step) return undefined;
    if (by === 'client') step.beforeLastPatch = { at: now, view: this.stepView(step) };
    step.patches.push({ at: now, body, by });
    if (body.status !== undefined && body.status !== step.status) {
      step.status = body.status;
      step.statusLastUpdated = now;
      if (body.status === 'IN_PROGRESS' && step.startedTime === undefined) step.startedTime = now;
      step.completedTime = FINAL_STEP_STATUSES.has(body.status) ? now : undefined;
    }
    if (body.automationConfig) {
      const { flowId, executionId, executionStatus } = body.automationConfig;
      step.automationConfig = {
        ...step.automationConfig,
        flowId,
        ...(executionId === undefined ? {} : { executionId }),
        ...(executionStatus === undefined ? {} : { executionStatus }),
      };
    }
    if (body.name !== undefined) step.name = body.name;
    if (body.assignedTo !== undefined) step.assignedTo = body.assignedTo;
    if (body.dueDate !== undefined) step.dueDate = body.dueDate;
    step.lastUpdated = now;
    this.lastUpdateTime = now;
    this.completedTime = this.currentStep() ? undefined : (this.completedTime ?? now);
    this.cachedSummary = undefined;
    if (this.summaryLagMs > 0) this.summaryHistory.push({ at: now, summary: this.freshSummary() });
    return this.stepView(step);
  }

  /** What a PATCH of the step would answer, without applying it (a write epilot accepts and then loses). */
  patchedStepView(stepId: string, body: UpdateStepBody): Record<string, unknown> | undefined {
    const step = this.steps.get(stepId);
    return step ? { ...this.stepView(step), ...(body.status === undefined ? {} : { status: body.status }) } : undefined;
  }

  /** Whether the step is an AUTOMATION step whose status is final. */
  isFinalAutomationStep(stepId: string): boolean {
    const step = this.steps.get(stepId);
    return step?.executionType === 'AUTOMATION' && FINAL_STEP_STATUSES.has(step.status);
  }

  /** One step as GET serves it inside `flow` (in its section, if it has one), or undefined for an unknown id. */
  stepApi(stepId: string): StepView | undefined {
    const step = this.steps.get(stepId);
    return step ? { ...this.stepView(step), id: step.id, status: step.status } : undefined;
  }

  /**
   * PATCH requests that set a final status: the runner's result. Its IN_PROGRESS note of a started run is not one,
   * nor an edit made in epilot itself.
   */
  patchCount(stepId: string): number {
    return (
      this.steps
        .get(stepId)
        ?.patches.filter((patch) => patch.by === 'client' && patch.body.status !== undefined && FINAL_STEP_STATUSES.has(patch.body.status))
        .length ?? 0
    );
  }

  patches(stepId: string): readonly StepPatchRecord[] {
    return this.steps.get(stepId)?.patches ?? [];
  }

  /** What the entity search shows for this execution at `now`, honouring the seeded summary lag. */
  summary(now: number): WorkflowSummary {
    if (this.summaryLagMs <= 0) return (this.cachedSummary ??= this.freshSummary());
    const visibleAt = now - this.summaryLagMs;
    let index = 0;
    for (let i = this.summaryHistory.length - 1; i >= 0; i--) {
      const entry = this.summaryHistory[i];
      if (entry && entry.at <= visibleAt) {
        index = i;
        break;
      }
    }
    // Older entries can never become visible again (the clock only moves forward).
    if (index > 0) this.summaryHistory = this.summaryHistory.slice(index);
    const entry = this.summaryHistory[0];
    if (!entry) throw new Error(`workflow execution ${this.id}: summary history is empty`);
    return entry.summary;
  }

  private freshSummary(): WorkflowSummary {
    const status = this.status();
    const finished = this.orderedSteps.filter((step) => FINAL_STEP_STATUSES.has(step.status)).length;
    const summary: WorkflowSummary = {
      id: this.id,
      definition_id: this.definitionId,
      name: this.name,
      status,
      assignees: this.assignedTo,
      last_update_time: new Date(this.lastUpdateTime).toISOString(),
      progress: this.orderedSteps.length === 0 ? 100 : Math.round((finished / this.orderedSteps.length) * 100),
    };
    const step = status === 'STARTED' ? this.currentStep() : undefined;
    if (step) {
      summary.task_id = step.id;
      summary.task_name = step.name;
      summary.task_execution_type = step.executionType;
      summary.task_status = step.status;
      summary.task_assignees = step.assignedTo ?? [];
      if (step.dueDate !== undefined) summary.task_duedate = step.dueDate;
      if (step.section) {
        summary.phase_id = step.section.id;
        summary.phase_name = step.section.name;
      }
    }
    return summary;
  }

  /** GET /v1/workflows/executions/{id} body (definition schema WorkflowExecution); `read` may serve steps stale. */
  toApi(contexts: EntityContext[], read?: StepRead): Record<string, unknown> {
    const current = this.currentStep();
    const view: Record<string, unknown> = {
      id: this.id,
      definitionId: this.definitionId,
      orgId: this.orgId,
      name: this.name,
      trigger: 'MANUAL',
      status: this.status(),
      creationTime: iso(this.creationTime),
      lastUpdateTime: iso(this.lastUpdateTime),
      assignedTo: this.assignedTo,
      contexts,
      flow: this.flow.map((item) => (item.kind === 'section' ? this.sectionView(item, read) : this.servedStepView(item, read))),
    };
    if (this.completedTime !== undefined) view.completedTime = iso(this.completedTime);
    if (current && !this.closed) view.nextOpenStep = { id: current.id };
    return view;
  }

  private servedStepView(step: StepState, read: StepRead | undefined): Record<string, unknown> {
    const before = step.beforeLastPatch;
    return read && before && read.now - before.at < read.staleMs ? before.view : this.stepView(step);
  }

  private sectionView(section: SectionState, read: StepRead | undefined): Record<string, unknown> {
    const finished = section.steps.every((step) => FINAL_STEP_STATUSES.has(step.status));
    const started = section.steps.some((step) => step.status !== 'PENDING' && step.status !== 'UNASSIGNED' && step.status !== 'ASSIGNED');
    const view: Record<string, unknown> = { id: section.id, name: section.name };
    if (!section.omitType) view.type = 'SECTION';
    view.status = finished ? 'COMPLETED' : started ? 'IN_PROGRESS' : 'OPEN';
    view.steps = section.steps.map((step) => this.servedStepView(step, read));
    return view;
  }

  private stepView(step: StepState): Record<string, unknown> {
    const view: Record<string, unknown> = { id: step.id, name: step.name };
    if (!step.guideSpelling) view.type = 'STEP';
    view.status = step.status;
    view[step.guideSpelling ? 'execution_type' : 'executionType'] = step.executionType;
    if (step.automationConfig) {
      const { flowId, executionId, executionStatus } = step.automationConfig;
      view.automationConfig = step.guideSpelling
        ? { flowId, execution_id: executionId ?? null, execution_status: executionStatus ?? null }
        : { flowId, ...(executionId === undefined ? {} : { executionId }), ...(executionStatus === undefined ? {} : { executionStatus }) };
    }
    if (step.section) view.sectionId = step.section.id;
    view.assignedTo = step.assignedTo ?? [];
    if (step.dueDate !== undefined) view.dueDate = step.dueDate;
    view.enabled = true;
    view.created = iso(step.created);
    view.lastUpdated = iso(step.lastUpdated);
    if (step.statusLastUpdated !== undefined) view.statusLastUpdated = iso(step.statusLastUpdated);
    if (step.startedTime !== undefined) view.startedTime = iso(step.startedTime);
    if (step.completedTime !== undefined) view.completedTime = iso(step.completedTime);
    return view;
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
