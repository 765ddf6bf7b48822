import { newRun, runStatusAt, type RunState, type StartExecutionBody, type ExecutionStatus, type WorkflowContext } from './automation-runs';
import { DEFAULT_ORG_ID, findUnknownReferences, parseSeed, SeedError, type FlowSeed, type SimulatorSeedInput } from './seed';
import { WorkflowExecutionState, type EntityContext, type WorkflowSummary } from './workflows';

/**
 * The simulated organisation's state. Everything is in plain maps; derived views (an entity's `workflows`,
 * a run's status) are computed on read, so 100,000 mostly idle entities cost little more than their JSON.
 */

export interface EntityRecord {
  _id: string;
  _schema: string;
  _title: string;
  _org: string;
  _created_at: string;
  _updated_at: string;
  [key: string]: unknown;
}

export interface AutomationRunView {
  id: string;
  flowId: string;
  entityId: string;
  workflowContext: WorkflowContext | undefined;
  /** Status as of the simulator clock's now. */
  status: ExecutionStatus;
  /** Clock time the run was created (epoch ms). */
  createdAt: number;
  cancelledAt: number | undefined;
}

export class SimulatorStore {
  readonly orgId: string;
  readonly entities = new Map<string, EntityRecord>();
  readonly executions = new Map<string, WorkflowExecutionState>();
  readonly flows = new Map<string, FlowSeed>();
  readonly runs = new Map<string, RunState>();
  /** Bumped whenever the entity set changes, so cached sort orders know they are stale. */
  entitiesVersion = 0;
  /** Bumped whenever workflow executions are added (which changes which entities have workflows). */
  executionsVersion = 0;
  private readonly executionsByEntity = new Map<string, WorkflowExecutionState[]>();
  private readonly runsByEntity = new Map<string, RunState[]>();
  private readonly runsInOrder: RunState[] = [];

  constructor(
    private readonly now: () => number,
    private readonly newId: () => string,
    orgId: string | undefined,
  ) {
    this.orgId = orgId ?? DEFAULT_ORG_ID;
  }

  /** Adds a seed's contents. Throws a SeedError naming the field when something is invalid or a duplicate. */
  load(input: SimulatorSeedInput): void {
    const seed = parseSeed(input);
    if (seed.orgId !== undefined && seed.orgId !== this.orgId)
      throw new SeedError(`seed orgId ${seed.orgId} differs from the simulator's org ${this.orgId}`);
    const problems = findUnknownReferences(seed, { entityIds: new Set(this.entities.keys()), flowIds: new Set(this.flows.keys()) });
    const entityIds = new Set(this.entities.keys());
    seed.entities.forEach((entity, i) => {
      if (entityIds.has(entity._id)) problems.push(`entities[${i}]._id: duplicate entity ${entity._id}`);
      entityIds.add(entity._id);
    });
    const executionIds = new Set(this.executions.keys());
    seed.workflowExecutions.forEach((execution, i) => {
      if (executionIds.has(execution.id)) problems.push(`workflowExecutions[${i}].id: duplicate workflow execution ${execution.id}`);
      executionIds.add(execution.id);
    });
    if (problems.length > 0) throw new SeedError(`Invalid simulator seed: ${problems.join('; ')}`);

    const now = this.now();
    // Built before anything is stored, so a bad execution (duplicate step id) leaves the state untouched.
    const executions = seed.workflowExecutions.map((executionSeed) => new WorkflowExecutionState(executionSeed, this.orgId, now));
    const loadedAt = new Date(now).toISOString();
    for (const flow of seed.flows) this.flows.set(flow.id, flow);
    for (const entity of seed.entities) {
      const createdAt = entity._created_at ?? loadedAt;
      this.entities.set(entity._id, {
        ...entity,
        _org: entity._org ?? this.orgId,
        _created_at: createdAt,
        _updated_at: entity._updated_at ?? createdAt,
      });
    }
    if (seed.entities.length > 0) this.entitiesVersion++;
    if (executions.length > 0) this.executionsVersion++;
    for (const execution of executions) {
      this.executions.set(execution.id, execution);
      for (const entityId of execution.entityIds) pushTo(this.executionsByEntity, entityId, execution);
    }
    for (const runSeed of seed.automationRuns) {
      const flow = this.flows.get(runSeed.flowId);
      if (!flow) throw new SeedError(`automation run: unknown flow ${runSeed.flowId}`);
      this.addRun(
        newRun({
          id: runSeed.id ?? this.newId(),
          flow,
          entityId: runSeed.entityId,
          orgId: this.orgId,
          workflowContext: runSeed.workflowContext,
          createdAt: now - runSeed.startedAgoMs,
        }),
      );
    }
  }

  /** The entity as the search serves it: stored fields plus the computed `workflows`. */
  entityView(entity: EntityRecord, now: number): EntityRecord {
    const workflows = this.workflowsOf(entity._id, now);
    return workflows ? { ...entity, workflows } : entity;
  }

  hasWorkflows(entityId: string): boolean {
    return this.executionsByEntity.has(entityId);
  }

  workflowsOf(entityId: string, now: number): Record<string, WorkflowSummary[] | WorkflowSummary> | undefined {
    const executions = this.executionsByEntity.get(entityId);
    if (!executions) return undefined;
    const byDefinition: Record<string, WorkflowSummary[] | WorkflowSummary> = {};
    let primary: WorkflowSummary | undefined;
    for (const execution of executions) {
      const summary = execution.summary(now);
      const list = byDefinition[summary.definition_id];
      if (Array.isArray(list)) list.push(summary);
      else byDefinition[summary.definition_id] = [summary];
      // The primary workflow: the first one still running, else the first one.
      if (!primary || (primary.status !== 'STARTED' && summary.status === 'STARTED')) primary = summary;
    }
    if (primary) byDefinition.primary = primary;
    return byDefinition;
  }

  contextsOf(execution: WorkflowExecutionState): EntityContext[] {
    return execution.entityIds.map((id) => {
      const entity = this.entities.get(id);
      return { id, title: entity?._title ?? id, schema: entity?._schema ?? 'unknown' };
    });
  }

  startRun(body: StartExecutionBody, flow: FlowSeed): RunState {
    const run = newRun({
      id: this.newId(),
      flow,
      entityId: body.entity_id,
      orgId: this.orgId,
      workflowContext: body.workflow_context,
      createdAt: this.now(),
    });
    this.addRun(run);
    return run;
  }

  private addRun(run: RunState): void {
    if (this.runs.has(run.id)) throw new SeedError(`duplicate automation run id ${run.id}`);
    this.runs.set(run.id, run);
    pushTo(this.runsByEntity, run.entityId, run);
    this.runsInOrder.push(run);
  }

  /** Newest first, like the real listing; `visible` leaves out runs the listing does not show (yet). */
  listRuns(
    entityId: string | undefined,
    from: number,
    size: number,
    visible: (run: RunState) => boolean = () => true,
  ): { total: number; results: RunState[] } {
    const all = (entityId === undefined ? this.runsInOrder : (this.runsByEntity.get(entityId) ?? [])).filter(visible);
    const results: RunState[] = [];
    for (let i = all.length - 1 - from; i >= 0 && results.length < size; i--) {
      const run = all[i];
      if (run) results.push(run);
    }
    return { total: all.length, results };
  }

  runViews(): AutomationRunView[] {
    const now = this.now();
    return this.runsInOrder.map((run) => ({
      id: run.id,
      flowId: run.flowId,
      entityId: run.entityId,
      workflowContext: run.workflowContext,
      status: runStatusAt(run, now).status,
      createdAt: run.createdAt,
      cancelledAt: run.cancelledAt,
    }));
  }
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
