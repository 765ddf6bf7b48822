import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import * as z from 'zod';
import type { EpilotApiName } from '../lambdas/shared/config/settings';
import { cancelRun, runToApi, StartExecutionBodySchema } from './automation-runs';
import { FaultInjector, OPERATIONS, type FaultOptions, type FaultPlan, type OperationName, type ScriptedFault } from './faults';
import { readBody, sendJson } from './http-utils';
import { EntitySearch, SearchBodySchema } from './search';
import type { EntitySeedInput, FlowSeedInput, SimulatorSeedInput, WorkflowExecutionSeedInput } from './seed';
import { SimulatorStore, type AutomationRunView, type EntityRecord } from './store';
import { UpdateStepBodySchema, type StepPatchRecord, type StepView, type UpdateStepBody } from './workflows';
import { ScheduledStepEdits } from './step-edits';

/**
 * A loopback server that plays epilot's entity, workflow and automation APIs on one base URL.
 * The OpenAPI definitions in node_modules/@epilot/*-client/dist/openapi.json are the reference for every
 * shape served here (see test/contract).
 */

export type { FaultOptions, ScriptedFault, OperationName } from './faults';
export type { AutomationRunView, EntityRecord } from './store';
export type { StepPatchRecord, StepView } from './workflows';
export type { SimulatorSeedInput } from './seed';

export interface SimulatorClock {
  /** Epoch ms. */
  now(): number;
}

export interface EpilotSimulatorOptions {
  /** The only accepted bearer token; any other or missing Authorization header gets a 401. */
  token: string;
  seed?: SimulatorSeedInput;
  /** Default 0 (a free port). The host is always 127.0.0.1. */
  port?: number;
  /** Drives run progression and all timestamps. Default: Date.now. */
  clock?: SimulatorClock;
  faults?: FaultOptions;
  /** Source of fault decisions. Default: Math.random. */
  random?: () => number;
  /** Record every exchange in `traffic`. Default true; turn off for large benchmarks. */
  recordTraffic?: boolean;
  /** Automation run ids from a counter instead of random uuids, for repeatable runs. */
  deterministicIds?: boolean;
  /** Refuse `from + size` above this, like Elasticsearch's max_result_window. Default: no limit. */
  maxResultWindow?: number;
}

export interface RecordedExchange {
  /** Simulator clock when the request arrived (epoch ms). */
  at: number;
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  /** 0 when no response was sent (the socket was destroyed: a reset or a lost response). */
  status: number;
  /** For unknown routes: guessed from the path prefix. */
  api: EpilotApiName;
  operation: OperationName | undefined;
  /** Parsed JSON, or undefined when there was none (or it was not read). */
  requestBody: unknown;
  /** Parsed JSON as sent, or undefined for an empty body / no response. */
  responseBody: unknown;
  /** Set when a fault shaped this exchange, e.g. `scripted:reset`, `random:429`. */
  fault?: string;
}

export interface EpilotSimulator {
  readonly url: string;
  stop(): Promise<void>;
  /** Live array of exchanges (oldest first). */
  readonly traffic: RecordedExchange[];
  clearTraffic(): void;
  /** Calls per operation (authenticated, routed calls, including faulted ones). */
  callCounts(): Record<string, number>;
  resetCallCounts(): void;
  /** The clock the simulator uses. */
  now(): number;

  /** The execution exactly as GET would serve it, or undefined. */
  getWorkflowExecution(id: string): Record<string, unknown> | undefined;
  /** One step of the execution as GET serves it, looked up inside sections too; undefined for unknown ids. */
  getStep(executionId: string, stepId: string): StepView | undefined;
  /** Every change applied to a step, oldest first (empty for unknown ids): PATCH requests and epilot's own edits (`by`). */
  getStepPatches(executionId: string, stepId: string): readonly StepPatchRecord[];
  /**
   * PATCH requests applied that set a final status (COMPLETED, SKIPPED, FAILED); the runner's IN_PROGRESS note of
   * its run is not counted, nor a person's or epilot's own edit (fault modes), nor a dropped write.
   */
  stepPatchCount(executionId: string, stepId: string): number;
  /** The entity as the search would serve it (with computed `workflows`). */
  getEntity(id: string): EntityRecord | undefined;
  listAutomationRuns(): AutomationRunView[];
  /** The runs started for one workflow task, i.e. with its ids in `workflow_context`, oldest first. */
  runsFor(workflowExecutionId: string, taskId: string): AutomationRunView[];
  /** The run exactly as GET would serve it now, or undefined. */
  getAutomationRun(id: string): Record<string, unknown> | undefined;

  /** Adds more data (same format and validation as the initial seed). */
  load(seed: SimulatorSeedInput): void;
  addEntity(entity: EntitySeedInput): void;
  /** Adds a flow or replaces one with the same id (runs already started keep their timing). */
  addFlow(flow: FlowSeedInput): void;
  addWorkflowExecution(execution: WorkflowExecutionSeedInput): void;

  setFaults(options: FaultOptions): void;
  /** Queues a fault for the next matching call(s); scripted faults win over random ones. */
  scriptFault(fault: ScriptedFault): void;
  clearScriptedFaults(): void;
  /** Changes a step as a person would in epilot's UI (not a PATCH request: stepPatchCount does not count it). */
  editStep(executionId: string, stepId: string, body: UpdateStepBody): void;
}

interface HandlerResult {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}
interface RequestContext {
  params: string[];
  query: Record<string, string>;
  body: unknown;
  now: number;
  /** Answer as if processed, without processing (only workflow.updateStep honours it). */
  dropWrite: boolean;
}
interface Route {
  method: string;
  pattern: RegExp;
  api: EpilotApiName;
  operation: OperationName;
  hasBody: boolean;
  handle(context: RequestContext): HandlerResult;
}

export async function startEpilotSimulator(options: EpilotSimulatorOptions): Promise<EpilotSimulator> {
  if (!options.token) throw new Error('startEpilotSimulator: a token is required');
  const clock = options.clock ?? { now: () => Date.now() };
  const now = (): number => clock.now();
  let idCounter = 0;
  const newId = options.deterministicIds
    ? (): string => `10000000-0000-4000-8000-${(++idCounter).toString(16).padStart(12, '0')}`
    : (): string => randomUUID();
  const store = new SimulatorStore(now, newId, options.seed?.orgId);
  if (options.seed) store.load(options.seed);
  const search = new EntitySearch(store, options.maxResultWindow);
  const faults = new FaultInjector(options.random ?? Math.random, options.faults);
  const recordTraffic = options.recordTraffic ?? true;
  const traffic: RecordedExchange[] = [];
  const counts = new Map<string, number>();
  const expectedAuthorization = `Bearer ${options.token}`;
  const edits = new ScheduledStepEdits(store.executions);
  const routes = buildRoutes(store, search, faults, edits);
  const sockets = new Set<Socket>();
  const pendingDelays = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  let stopped = false;

  const delay = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          pendingDelays.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      pendingDelays.add(entry);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '/';
    const queryStart = url.indexOf('?');
    const path = queryStart === -1 ? url : url.slice(0, queryStart);
    const query = queryStart === -1 ? {} : Object.fromEntries(new URLSearchParams(url.slice(queryStart + 1)));
    const method = req.method ?? 'GET';
    const match = matchRoute(routes, method, path);
    const api = match?.route.api ?? apiOfPath(path);
    const exchange: RecordedExchange = {
      at: now(),
      method,
      path,
      query,
      status: 0,
      api,
      operation: match?.route.operation,
      requestBody: undefined,
      responseBody: undefined,
    };
    const finish = (status: number, body: unknown, headers?: Record<string, string>): void => {
      if (!res.headersSent && !res.destroyed) sendJson(res, status, body, headers);
      exchange.status = status;
      exchange.responseBody = body;
      if (recordTraffic) traffic.push(exchange);
    };
    const drop = (): void => {
      req.socket.destroy();
      exchange.status = 0;
      if (recordTraffic) traffic.push(exchange);
    };

    if (req.headers.authorization !== expectedAuthorization) {
      finish(401, errorBody(api, 401, 'Unauthorized'));
      return;
    }
    if (!match) {
      finish(404, errorBody(api, 404, `No route for ${method} ${path}`));
      return;
    }
    const { route, params } = match;
    edits.applyDue(now());
    counts.set(route.operation, (counts.get(route.operation) ?? 0) + 1);

    const read = await readBody(req);
    if (read.kind === 'aborted') {
      drop();
      return;
    }
    if (read.kind === 'tooLarge') {
      finish(413, errorBody(api, 413, 'Request body exceeds 5 MB'));
      return;
    }
    if (route.hasBody && read.text.trim() !== '') {
      try {
        exchange.requestBody = JSON.parse(read.text);
      } catch (error) {
        finish(400, errorBody(api, 400, `Malformed JSON body: ${(error as Error).message}`));
        return;
      }
    }

    const plan: FaultPlan = faults.plan(route.operation, (status, message) => errorBody(api, status, message), exchange.requestBody);
    if (plan.label) exchange.fault = plan.label;
    if (plan.delayMs > 0) await delay(plan.delayMs);
    if (stopped) {
      drop();
      return;
    }
    if (plan.before.kind === 'reset') {
      drop();
      return;
    }
    if (plan.before.kind === 'respond') {
      finish(plan.before.status, plan.before.body, plan.before.headers);
      return;
    }

    let result: HandlerResult;
    try {
      edits.applyDue(now());
      result = route.handle({ params, query, body: exchange.requestBody, now: now(), dropWrite: plan.dropWrite });
    } catch (error) {
      finish(500, errorBody(api, 500, `Simulator error: ${(error as Error).message}`));
      return;
    }
    if (plan.loseResponse === 'reset') {
      drop();
      return;
    }
    if (plan.loseResponse === 'emptyBody') {
      finish(result.status, undefined, result.headers);
      return;
    }
    if (plan.loseResponse === 'badGateway') {
      finish(502, errorBody(api, 502, 'Bad Gateway'));
      return;
    }
    finish(result.status, result.body, result.headers);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent && !res.destroyed) sendJson(res, 500, { message: `Simulator error: ${String(error)}` });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const loadOne = (seed: SimulatorSeedInput): void => store.load(seed);

  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const entry of pendingDelays) {
        clearTimeout(entry.timer);
        entry.resolve();
      }
      pendingDelays.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    traffic,
    clearTraffic: () => void traffic.splice(0, traffic.length),
    callCounts: () => Object.fromEntries(OPERATIONS.map((operation) => [operation, counts.get(operation) ?? 0])),
    resetCallCounts: () => counts.clear(),
    now,
    getWorkflowExecution(id) {
      edits.applyDue(now());
      const execution = store.executions.get(id);
      return execution?.toApi(store.contextsOf(execution));
    },
    getStep(executionId, stepId) {
      edits.applyDue(now());
      return store.executions.get(executionId)?.stepApi(stepId);
    },
    getStepPatches(executionId, stepId) {
      edits.applyDue(now());
      return store.executions.get(executionId)?.patches(stepId) ?? [];
    },
    stepPatchCount: (executionId, stepId) => store.executions.get(executionId)?.patchCount(stepId) ?? 0,
    getEntity(id) {
      const entity = store.entities.get(id);
      return entity ? store.entityView(entity, now()) : undefined;
    },
    listAutomationRuns: () => store.runViews(),
    runsFor: (workflowExecutionId, taskId) =>
      store
        .runViews()
        .filter(
          (run) => run.workflowContext?.workflow_exec_id === workflowExecutionId && run.workflowContext.workflow_exec_task_id === taskId,
        ),
    getAutomationRun(id) {
      const run = store.runs.get(id);
      return run ? runToApi(run, now()) : undefined;
    },
    load: loadOne,
    addEntity: (entity) => loadOne({ entities: [entity] }),
    addFlow: (flow) => loadOne({ flows: [flow] }),
    addWorkflowExecution: (execution) => loadOne({ workflowExecutions: [execution] }),
    setFaults: (faultOptions) => faults.set(faultOptions),
    scriptFault: (fault) => faults.script(fault),
    clearScriptedFaults: () => faults.clearScripted(),
    editStep(executionId, stepId, body) {
      edits.applyDue(now());
      const execution = store.executions.get(executionId);
      if (!execution?.patchStep(stepId, body, now(), 'epilot')) throw new Error(`editStep: no step ${stepId} in ${executionId}`);
    },
  };
}

/** Workflow API errors are `{message}`; entity and automation API errors are `{status, error}`. */
function errorBody(api: EpilotApiName, status: number, message: string): Record<string, unknown> {
  return api === 'workflow' ? { message } : { status, error: message };
}

function apiOfPath(path: string): EpilotApiName {
  if (path.startsWith('/v1/workflows') || path.startsWith('/v2/flows')) return 'workflow';
  if (path.startsWith('/v1/automation')) return 'automation';
  return 'entity';
}

function matchRoute(routes: Route[], method: string, path: string): { route: Route; params: string[] } | undefined {
  for (const route of routes) {
    if (route.method !== method) continue;
    const found = route.pattern.exec(path);
    if (!found) continue;
    try {
      return { route, params: found.slice(1).map((param) => decodeURIComponent(param)) };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function describeZodError(error: z.ZodError, what: string): string {
  return error.issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') return `unknown ${what} key${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}`;
      const path = issue.path.map(String).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

const ListQuerySchema = z.object({
  entity_id: z.string().min(1).optional(),
  size: z.coerce.number().int().min(0).optional(),
  from: z.coerce.number().int().min(0).optional(),
  include_flows: z.enum(['true', 'false']).optional(),
});

function buildRoutes(store: SimulatorStore, search: EntitySearch, faults: FaultInjector, edits: ScheduledStepEdits): Route[] {
  const segment = '([^/]+)';
  const entityError = (status: number, message: string): HandlerResult => ({ status, body: errorBody('entity', status, message) });
  const workflowError = (status: number, message: string): HandlerResult => ({ status, body: errorBody('workflow', status, message) });
  const automationError = (status: number, message: string): HandlerResult => ({ status, body: errorBody('automation', status, message) });

  return [
    {
      method: 'POST',
      // Some clients percent-encode the colon.
      pattern: /^\/v1\/entity(?::|%3[aA])search$/,
      api: 'entity',
      operation: 'entity.searchEntities',
      hasBody: true,
      handle({ body, now }) {
        const parsed = SearchBodySchema.safeParse(body);
        if (!parsed.success) return entityError(400, `Invalid search: ${describeZodError(parsed.error, 'search parameter')}`);
        const outcome = search.search(parsed.data, now);
        return outcome.ok ? { status: 200, body: outcome.body } : entityError(400, outcome.message);
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/v1/workflows/executions/${segment}$`),
      api: 'workflow',
      operation: 'workflow.getExecution',
      hasBody: false,
      handle({ params: [id = ''], now }) {
        const execution = store.executions.get(id);
        // The real API answers an unknown id with 200 and an empty body.
        return {
          status: 200,
          body: execution?.toApi(store.contextsOf(execution), { now, staleMs: faults.staleStepReadMs() }),
        };
      },
    },
    {
      method: 'PATCH',
      pattern: new RegExp(`^/v1/workflows/executions/${segment}/steps/${segment}$`),
      api: 'workflow',
      operation: 'workflow.updateStep',
      hasBody: true,
      handle({ params: [executionId = '', stepId = ''], body, now, dropWrite }) {
        const parsed = UpdateStepBodySchema.safeParse(body);
        if (!parsed.success) return workflowError(400, `Invalid step update: ${describeZodError(parsed.error, 'step update')}`);
        const execution = store.executions.get(executionId);
        if (!execution) return workflowError(404, `Workflow execution ${executionId} not found`);
        const step = dropWrite ? execution.patchedStepView(stepId, parsed.data) : execution.patchStep(stepId, parsed.data, now);
        if (!step) return workflowError(404, `Step ${stepId} not found in workflow execution ${executionId}`);
        if (!dropWrite) edits.afterPatch(executionId, stepId, now, () => faults.reopensThisStep());
        return { status: 200, body: step };
      },
    },
    {
      method: 'POST',
      pattern: /^\/v1\/automation\/executions$/,
      api: 'automation',
      operation: 'automation.startExecution',
      hasBody: true,
      handle({ body, now }) {
        const parsed = StartExecutionBodySchema.safeParse(body);
        if (!parsed.success)
          return automationError(400, `Invalid execution request: ${describeZodError(parsed.error, 'execution request')}`);
        const flow = store.flows.get(parsed.data.flow_id);
        if (!flow) return automationError(404, `Automation flow ${parsed.data.flow_id} not found`);
        if (!store.entities.has(parsed.data.entity_id)) return automationError(404, `Entity ${parsed.data.entity_id} not found`);
        const run = store.startRun(parsed.data, flow);
        edits.afterRunStarted(run, faults.personFinalizesThisRun());
        return { status: 201, body: runToApi(run, now, 'pending') };
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/automation\/executions$/,
      api: 'automation',
      operation: 'automation.getExecutions',
      hasBody: false,
      handle({ query, now }) {
        const parsed = ListQuerySchema.safeParse(query);
        if (!parsed.success) return automationError(400, `Invalid query: ${describeZodError(parsed.error, 'query')}`);
        const { runListLagMs, flowRunsNeedIncludeFlows, malformedRunInList } = faults.runList();
        const includeFlows = parsed.data.include_flows === 'true';
        const from = parsed.data.from ?? 0;
        const { total, results } = store.listRuns(
          parsed.data.entity_id,
          from,
          parsed.data.size ?? 25,
          (run) =>
            (runListLagMs === undefined || now - run.createdAt >= runListLagMs) &&
            (!flowRunsNeedIncludeFlows || includeFlows || run.workflowContext === undefined),
        );
        const listed: unknown[] = results.map((run) => runToApi(run, now));
        if (malformedRunInList && from === 0) listed.push({ id: 'malformed-unrelated-run', flow_id: 'flow-unrelated' });
        return { status: 200, body: { total, results: listed } };
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/v1/automation/executions/${segment}$`),
      api: 'automation',
      operation: 'automation.getExecution',
      hasBody: false,
      handle({ params: [id = ''], now }) {
        const run = store.runs.get(id);
        return run ? { status: 200, body: runToApi(run, now) } : automationError(404, `Automation execution ${id} not found`);
      },
    },
    {
      method: 'DELETE',
      pattern: new RegExp(`^/v1/automation/executions/${segment}$`),
      api: 'automation',
      operation: 'automation.cancelExecution',
      hasBody: false,
      handle({ params: [id = ''], now }) {
        const run = store.runs.get(id);
        if (!run) return automationError(404, `Automation execution ${id} not found`);
        // Cancelling a finished run changes nothing; the definition only knows 200 (the execution) and 404.
        cancelRun(run, now);
        return { status: 200, body: runToApi(run, now) };
      },
    },
  ];
}
