import { readFileSync } from 'node:fs';
import * as z from 'zod';

/**
 * The organisation a simulator starts with (or has added at runtime): entities, automation flows, v1 workflow
 * executions that reference entities, and optionally automation runs that already exist.
 * Values are validated here so that a mistyped seed fails at load time with a path, not later as odd API data.
 */

const STEP_STATUSES = [
  'UNASSIGNED',
  'ASSIGNED',
  'COMPLETED',
  'SKIPPED',
  'IN_PROGRESS',
  'SCHEDULED',
  'PENDING',
  'CONDITION_PENDING',
  'WAITING_FOR_CONFIRMATION',
  'ON_HOLD',
  'FAILED',
] as const;
export const StepStatusSchema = z.enum(STEP_STATUSES);
export type StepStatus = z.infer<typeof StepStatusSchema>;

export const FLOW_OUTCOMES = ['success', 'failed', 'cancelled', 'skipped', 'hot', 'never'] as const;
export type FlowOutcome = (typeof FLOW_OUTCOMES)[number];

// Same leniency as ajv-formats' "uuid": the entity definition declares `_id` as a uuid, and the contract
// test validates served entities with ajv, so ids that ajv would reject are refused at load time.
const uuidLike = z.string().regex(/^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i, 'must be a uuid');
const isoDateTime = z.iso.datetime({ offset: true });
const nonNegativeMs = z.int().min(0);

export const FlowSeedSchema = z.strictObject({
  id: z.string().min(1),
  name: z.string().min(1),
  outcome: z.enum(FLOW_OUTCOMES),
  /** Time spent in `pending` after the start call. */
  pendingMs: nonNegativeMs.default(200),
  /** Time spent in `in_progress` before the outcome (ignored for `hot` and `never`). */
  durationMs: nonNegativeMs.default(1000),
  /** Name of the single action a run reports. */
  actionName: z.string().min(1).optional(),
});

const AutomationConfigSeedSchema = z.strictObject({
  flowId: z.string().min(1),
  executionId: z.string().min(1).optional(),
  executionStatus: z.string().min(1).optional(),
});

export const StepSeedSchema = z.strictObject({
  id: z.string().min(1),
  name: z.string().min(1),
  type: z.literal('STEP').optional(),
  status: StepStatusSchema.default('PENDING'),
  executionType: z.enum(['MANUAL', 'AUTOMATION']).default('MANUAL'),
  // Left optional on AUTOMATION steps on purpose: a misconfigured task is a case the runner must survive.
  automationConfig: AutomationConfigSeedSchema.optional(),
  assignedTo: z.array(z.string()).optional(),
  dueDate: z.string().optional(),
  /**
   * Serve this step the way the integration guide's examples spell it (`execution_type`,
   * `automationConfig.execution_id` / `execution_status`, no `type`), to test the runner's tolerance.
   */
  guideSpelling: z.boolean().default(false),
});

const SectionSeedSchema = z.strictObject({
  id: z.string().min(1),
  name: z.string().min(1),
  type: z.literal('SECTION').optional(),
  steps: z.array(StepSeedSchema),
  /** Serve the section without `type`, like the definition's own example does. */
  omitType: z.boolean().default(false),
});

// A flow item is a section exactly when it has a `steps` array (the rule the API notes give clients).
const FlowItemSeedSchema = z.union([SectionSeedSchema, StepSeedSchema]);

export const WorkflowExecutionSeedSchema = z.strictObject({
  id: z.string().min(1),
  definitionId: z.string().min(1),
  name: z.string().min(1),
  /** Entities the execution is attached to (its `contexts`); each entity's search result shows it. */
  entityIds: z.array(uuidLike).min(1),
  /** DONE is not seedable: it follows from the steps (no open step left). */
  status: z.enum(['STARTED', 'CLOSED']).default('STARTED'),
  creationTime: isoDateTime.optional(),
  assignedTo: z.array(z.string()).optional(),
  /**
   * How far the entity search's workflow summary lags behind the execution (ms). The real summary is
   * eventually consistent; a lag makes the search keep showing an already patched task, so a runner that
   * does not re-read the execution before acting gets caught.
   */
  summaryLagMs: nonNegativeMs.default(0),
  flow: z.array(FlowItemSeedSchema).min(1),
});

const WorkflowContextSeedSchema = z.strictObject({
  workflow_exec_id: z.string().min(1),
  workflow_exec_task_id: z.string().min(1).optional(),
  workflow_role: z.enum(['trigger_workflow', 'run_task_automation']),
});

const AutomationRunSeedSchema = z.strictObject({
  id: z.string().min(1).optional(),
  flowId: z.string().min(1),
  entityId: uuidLike,
  workflowContext: WorkflowContextSeedSchema.optional(),
  /** The run started this long before the seed was loaded (its status follows from its flow's timing). */
  startedAgoMs: nonNegativeMs.default(0),
});

const EntitySeedSchema = z
  .looseObject({
    _id: uuidLike,
    _schema: z.string().regex(/^[a-zA-Z0-9_-]+$/, 'must match ^[a-zA-Z0-9_-]+$'),
    _title: z.string(),
    _org: z.string().min(1).optional(),
    _created_at: isoDateTime.optional(),
    _updated_at: isoDateTime.optional(),
    _deleted_at: isoDateTime.optional(),
    _tags: z.array(z.string()).optional(),
  })
  .refine((entity) => !('workflows' in entity), {
    message: '`workflows` is computed from workflowExecutions and cannot be seeded',
    path: ['workflows'],
  });

export const SimulatorSeed = z.strictObject({
  orgId: z.string().min(1).optional(),
  entities: z.array(EntitySeedSchema).default([]),
  flows: z.array(FlowSeedSchema).default([]),
  workflowExecutions: z.array(WorkflowExecutionSeedSchema).default([]),
  automationRuns: z.array(AutomationRunSeedSchema).default([]),
});

/** What a seed file or a caller writes (defaults may be left out). */
export type SimulatorSeedInput = z.input<typeof SimulatorSeed>;
/** A validated seed with defaults filled in. */
export type SimulatorSeed = z.output<typeof SimulatorSeed>;
export type EntitySeed = z.output<typeof EntitySeedSchema>;
export type FlowSeed = z.output<typeof FlowSeedSchema>;
export type FlowSeedInput = z.input<typeof FlowSeedSchema>;
export type StepSeed = z.output<typeof StepSeedSchema>;
export type WorkflowExecutionSeed = z.output<typeof WorkflowExecutionSeedSchema>;
export type WorkflowExecutionSeedInput = z.input<typeof WorkflowExecutionSeedSchema>;
export type EntitySeedInput = z.input<typeof EntitySeedSchema>;

export class SeedError extends Error {
  override readonly name = 'SeedError';
}

/** Validates a seed; the error names the offending field by path, e.g. `workflowExecutions[2].flow[0].status`. */
export function parseSeed(input: unknown, source = 'seed'): SimulatorSeed {
  const result = SimulatorSeed.safeParse(input);
  if (!result.success) {
    const details = result.error.issues.map((issue) => describeIssue(issue, input)).join('; ');
    throw new SeedError(`Invalid simulator ${source}: ${details}`);
  }
  return result.data;
}

export function loadSeedFile(path: string): SimulatorSeed {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SeedError(`Cannot read simulator seed file ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SeedError(`Simulator seed file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  const seed = parseSeed(json, `seed file ${path}`);
  const problems = findUnknownReferences(seed, { entityIds: new Set(), flowIds: new Set() });
  if (problems.length > 0) throw new SeedError(`Invalid simulator seed file ${path}: ${problems.join('; ')}`);
  return seed;
}

/**
 * Cross-references that zod cannot see: executions and runs must point at entities, runs at flows.
 * A step's flowId may name an unknown flow on purpose (the runner must survive the start call's 404).
 */
export function findUnknownReferences(
  seed: SimulatorSeed,
  existing: { entityIds: ReadonlySet<string>; flowIds: ReadonlySet<string> },
): string[] {
  const entityIds = new Set(existing.entityIds);
  for (const entity of seed.entities) entityIds.add(entity._id);
  const flowIds = new Set(existing.flowIds);
  for (const flow of seed.flows) flowIds.add(flow.id);
  const problems: string[] = [];
  seed.workflowExecutions.forEach((execution, i) =>
    execution.entityIds.forEach((id, j) => {
      if (!entityIds.has(id)) problems.push(`workflowExecutions[${i}].entityIds[${j}]: unknown entity ${id}`);
    }),
  );
  seed.automationRuns.forEach((run, i) => {
    if (!entityIds.has(run.entityId)) problems.push(`automationRuns[${i}].entityId: unknown entity ${run.entityId}`);
    if (!flowIds.has(run.flowId)) problems.push(`automationRuns[${i}].flowId: unknown flow ${run.flowId}`);
  });
  return problems;
}

interface IssueLike {
  code: string;
  path: PropertyKey[];
  message: string;
  errors?: IssueLike[][];
  keys?: string[];
}

function describeIssue(issue: IssueLike, root: unknown): string {
  const path = formatPath(issue.path);
  if (issue.code === 'invalid_union' && issue.errors?.length === 2) {
    // The only union is a flow item: report against the branch the item was evidently meant to be.
    const value = valueAt(root, issue.path);
    const meantSection = typeof value === 'object' && value !== null && Array.isArray((value as { steps?: unknown }).steps);
    const branch = issue.errors[meantSection ? 0 : 1] ?? [];
    return branch.map((inner) => describeIssue({ ...inner, path: [...issue.path, ...inner.path] }, root)).join('; ');
  }
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    return `${path || '(root)'}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
  }
  return `${path || '(root)'}: ${issue.message}`;
}

function formatPath(path: PropertyKey[]): string {
  return path.reduce<string>(
    (text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)),
    '',
  );
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------
// Generated organisations for benchmarks and soak tests

export interface GenerateOrganisationOptions {
  /** Total number of entities. */
  entities: number;
  /** Entities whose workflow's current task is an AUTOMATION task. Default: 1 % of entities (at least 1). */
  automationTasks?: number;
  /** Entities whose workflow's current task is MANUAL (must be left alone). Default: 1 % of entities. */
  manualTasks?: number;
  /** Each automation task also has a second AUTOMATION task after it (so a later sweep finds more work). */
  chainedAutomation?: boolean;
  /** Flows the automation tasks use, round-robin. Default: one flow that succeeds after 1 s. */
  flows?: FlowSeedInput[];
  orgId?: string;
  /** Entity schema slug. Default: opportunity. */
  schema?: string;
  /** `_created_at` of every entity, so generated data is identical run to run. */
  createdAt?: string;
}

/**
 * Builds a large organisation cheaply and deterministically (same options → same ids). Workflows are spread
 * evenly across the id range, so paging through search results meets them on every page.
 */
export function generateOrganisation(options: GenerateOrganisationOptions): SimulatorSeed {
  const total = Math.max(0, Math.floor(options.entities));
  const onePercent = Math.max(1, Math.floor(total / 100));
  const automationTasks = Math.min(total, options.automationTasks ?? onePercent);
  const manualTasks = Math.min(total - automationTasks, options.manualTasks ?? onePercent);
  const flows = (
    options.flows ?? [{ id: 'generated-flow', name: 'Generated automation', outcome: 'success', pendingMs: 0, durationMs: 1000 }]
  ).map((flow) => FlowSeedSchema.parse(flow));
  if (flows.length === 0 && automationTasks > 0) throw new SeedError('generateOrganisation: automation tasks need at least one flow');
  const createdAt = options.createdAt ?? '2024-01-01T00:00:00.000Z';
  const orgId = options.orgId ?? DEFAULT_ORG_ID;
  const schema = options.schema ?? 'opportunity';

  const entities: EntitySeed[] = new Array<EntitySeed>(total);
  for (let i = 0; i < total; i++) {
    entities[i] = {
      _id: indexUuid(i),
      _schema: schema,
      _title: `Generated ${schema} ${i + 1}`,
      _org: orgId,
      _created_at: createdAt,
      _updated_at: createdAt,
    };
  }

  const workflowExecutions: WorkflowExecutionSeed[] = [];
  const withWorkflow = automationTasks + manualTasks;
  const stride = withWorkflow > 0 ? total / withWorkflow : 0;
  for (let k = 0; k < withWorkflow; k++) {
    const entityId = indexUuid(Math.floor(k * stride));
    const id = `gen-wf-${String(k + 1).padStart(7, '0')}`;
    const step = (suffix: string, name: string, automationFlowId?: string): StepSeed => ({
      id: `${id}-${suffix}`,
      name,
      status: 'PENDING',
      executionType: automationFlowId === undefined ? 'MANUAL' : 'AUTOMATION',
      ...(automationFlowId === undefined ? {} : { automationConfig: { flowId: automationFlowId } }),
      guideSpelling: false,
    });
    const flowSteps: StepSeed[] = [];
    if (k < automationTasks) {
      const flow = flows[k % flows.length];
      if (!flow) throw new SeedError('generateOrganisation: no flow');
      flowSteps.push(step('auto-1', 'Run automation', flow.id));
      if (options.chainedAutomation) flowSteps.push(step('auto-2', 'Run follow-up automation', flow.id));
    }
    flowSteps.push(step('manual', 'Review by a person'));
    workflowExecutions.push({
      id,
      definitionId: k < automationTasks ? 'generatedAutomationWf' : 'generatedManualWf',
      name: k < automationTasks ? 'Generated automation workflow' : 'Generated manual workflow',
      entityIds: [entityId],
      status: 'STARTED',
      creationTime: createdAt,
      summaryLagMs: 0,
      flow: flowSteps,
    });
  }
  return { orgId, entities, flows, workflowExecutions, automationRuns: [] };
}

export const DEFAULT_ORG_ID = '1000001';

/** Deterministic, valid uuid (version 4 layout) for index i. */
export function indexUuid(i: number): string {
  const hex = i.toString(16).padStart(12, '0');
  return `00000000-0000-4000-8000-${hex}`;
}
