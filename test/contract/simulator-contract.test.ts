import { startEpilotSimulator, type EpilotSimulator, type RecordedExchange } from '../../simulator/epilot-simulator';
import { OPERATIONS } from '../../simulator/faults';
import type { SimulatorSeedInput } from '../../simulator/seed';
import { findOperation, validateExchange } from './openapi';

/**
 * Drives every simulator endpoint, successes and errors, and checks each recorded exchange against epilot's
 * OpenAPI definitions. The second half proves the validator is not vacuous: it must reject wrong bodies.
 */

const TOKEN = 'contract-token';
const ENTITY = 'aaaaaaaa-0000-4000-8000-000000000001';
const OTHER_ENTITY = 'aaaaaaaa-0000-4000-8000-000000000002';
const WORKFLOW_CONTEXT = { workflow_exec_id: 'wf-1', workflow_exec_task_id: 'step-auto', workflow_role: 'run_task_automation' };

const seed: SimulatorSeedInput = {
  entities: [
    { _id: ENTITY, _schema: 'opportunity', _title: 'Contract opportunity', _tags: ['contract'], customer_name: 'Ada' },
    { _id: OTHER_ENTITY, _schema: 'contact', _title: 'Contract contact' },
  ],
  flows: [
    { id: 'flow-success', name: 'Success', outcome: 'success', pendingMs: 100, durationMs: 100 },
    { id: 'flow-failed', name: 'Failed', outcome: 'failed', pendingMs: 0, durationMs: 100 },
    { id: 'flow-skipped', name: 'Skipped', outcome: 'skipped', pendingMs: 0, durationMs: 100 },
    { id: 'flow-hot', name: 'Hot', outcome: 'hot' },
    { id: 'flow-never', name: 'Never', outcome: 'never', pendingMs: 0 },
  ],
  workflowExecutions: [
    {
      id: 'wf-1',
      definitionId: 'def-1',
      name: 'Contract workflow',
      entityIds: [ENTITY],
      assignedTo: ['10014629'],
      flow: [
        {
          id: 'sec-1',
          name: 'Phase 1',
          steps: [
            { id: 'step-done', name: 'Done', status: 'COMPLETED' },
            {
              id: 'step-auto',
              name: 'Auto',
              executionType: 'AUTOMATION',
              automationConfig: { flowId: 'flow-success' },
              dueDate: '2024-06-01T00:00:00.000Z',
            },
          ],
        },
        { id: 'step-manual', name: 'Manual', assignedTo: ['10002602'] },
      ],
    },
    {
      id: 'wf-guide',
      definitionId: 'def-guide',
      name: 'Guide-spelled workflow',
      entityIds: [OTHER_ENTITY],
      flow: [
        { id: 'g-1', name: 'Guide step', executionType: 'AUTOMATION', automationConfig: { flowId: 'flow-success' }, guideSpelling: true },
      ],
    },
  ],
};

describe('simulator contract against the epilot OpenAPI definitions', () => {
  let t = Date.parse('2024-05-01T10:00:00.000Z');
  let sim: EpilotSimulator;

  async function call(method: string, path: string, body?: unknown, options: { token?: string; raw?: string } = {}): Promise<number> {
    try {
      const response = await fetch(`${sim.url}${path}`, {
        method,
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${options.token ?? TOKEN}` },
        body: options.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return 0;
    }
  }

  beforeAll(async () => {
    sim = await startEpilotSimulator({ token: TOKEN, seed, clock: { now: () => t } });

    // entity search
    await call('POST', '/v1/entity:search', { q: '*' });
    await call('POST', '/v1/entity:search', {
      q: 'workflows.*.task_execution_type:AUTOMATION',
      hydrate: true,
      size: 5,
      from: 0,
      include_deleted: 'false',
    });
    await call('POST', '/v1/entity:search', {
      q: '*',
      sort: ['_created_at:desc', '_id'],
      size: 1,
      fields: ['_id', 'workflows'],
      stable_for: 30,
    });
    await call('POST', '/v1/entity:search', { q: '*', sort: '_id', size: 1, search_after: [ENTITY] });
    await call('POST', '/v1/entity:search', { q: '_schema:nothing' });
    await call('POST', '/v1/entity:search', { q: '*', unknown_key: true });
    await call('POST', '/v1/entity:search', { q: '*', size: 5000 });
    await call('POST', '/v1/entity:search', { q: 'free text' });
    await call('POST', '/v1/entity:search', undefined, { raw: '{"q":' });
    await call('POST', '/v1/entity:search', undefined, { raw: JSON.stringify({ q: '*', pad: 'x'.repeat(5 * 1024 * 1024 + 1) }) });
    await call('POST', '/v1/entity:search', { q: '*' }, { token: 'wrong' });
    sim.scriptFault({ operation: 'entity.searchEntities', fault: 'tooManyRequests' });
    await call('POST', '/v1/entity:search', { q: '*' });

    // workflow executions
    await call('GET', '/v1/workflows/executions/wf-1');
    await call('GET', '/v1/workflows/executions/unknown');
    await call('GET', '/v1/workflows/executions/wf-guide');
    await call('GET', '/v1/workflows/executions/wf-1', undefined, { token: 'wrong' });
    sim.scriptFault({ operation: 'workflow.getExecution', fault: 'serverError' });
    await call('GET', '/v1/workflows/executions/wf-1');
    await call('PATCH', '/v1/workflows/executions/wf-1/steps/step-auto', {
      status: 'IN_PROGRESS',
      automationConfig: { flowId: 'flow-success', executionId: 'run-x', executionStatus: 'in_progress' },
    });
    t += 1000;
    await call('PATCH', '/v1/workflows/executions/wf-1/steps/step-auto', {
      status: 'COMPLETED',
      automationConfig: { flowId: 'flow-success', executionId: 'run-x', executionStatus: 'success' },
    });
    await call('GET', '/v1/workflows/executions/wf-1');
    await call('PATCH', '/v1/workflows/executions/wf-1/steps/step-manual', { status: 'NOT_A_STATUS' });
    await call('PATCH', '/v1/workflows/executions/wf-1/steps/step-manual', { automationConfig: { executionId: 'no-flow-id' } });
    await call('PATCH', '/v1/workflows/executions/wf-1/steps/unknown', { status: 'COMPLETED' });
    await call('PATCH', '/v1/workflows/executions/unknown/steps/step-auto', { status: 'COMPLETED' });
    await call('PATCH', '/v1/workflows/executions/wf-1/steps/step-manual', undefined, { raw: 'not json' });
    await call('POST', '/v1/entity:search', { q: `_id:"${ENTITY}"` });

    // automation executions, in every status
    for (const flowId of ['flow-success', 'flow-failed', 'flow-skipped', 'flow-hot', 'flow-never']) {
      await call('POST', '/v1/automation/executions', { entity_id: ENTITY, flow_id: flowId, workflow_context: WORKFLOW_CONTEXT });
    }
    await call('POST', '/v1/automation/executions', {
      entity_id: ENTITY,
      flow_id: 'flow-success',
      flow_execution_id: 'deprecated-but-allowed',
    });
    const runs = sim.listAutomationRuns();
    for (const run of runs) await call('GET', `/v1/automation/executions/${run.id}`);
    t += 250;
    for (const run of runs) await call('GET', `/v1/automation/executions/${run.id}`);
    await call('DELETE', `/v1/automation/executions/${runs[4]?.id ?? ''}`);
    await call('DELETE', `/v1/automation/executions/${runs[0]?.id ?? ''}`);
    await call('DELETE', '/v1/automation/executions/unknown');
    await call('GET', '/v1/automation/executions/unknown');
    await call('GET', `/v1/automation/executions?entity_id=${ENTITY}&size=3&from=1`);
    await call('GET', '/v1/automation/executions');
    await call('GET', '/v1/automation/executions?size=abc');
    await call('POST', '/v1/automation/executions', { flow_id: 'flow-success' });
    await call('POST', '/v1/automation/executions', { entity_id: ENTITY, flow_id: 'unknown-flow' });
    sim.scriptFault({ operation: 'automation.startExecution', fault: 'lostResponse' });
    await call('POST', '/v1/automation/executions', { entity_id: ENTITY, flow_id: 'flow-success', workflow_context: WORKFLOW_CONTEXT });
    sim.setFaults({ lostStartResponseRate: 1, lostResponseAs: 'badGateway' });
    await call('POST', '/v1/automation/executions', { entity_id: ENTITY, flow_id: 'flow-success', workflow_context: WORKFLOW_CONTEXT });
    sim.setFaults({});
    sim.scriptFault({ operation: 'automation.getExecution', fault: 'serverError' });
    await call('GET', `/v1/automation/executions/${runs[0]?.id ?? ''}`);

    // people and epilot acting on steps: reopened, finalized by a person, a dropped PATCH, stale reads
    sim.setFaults({ reopenStepAfterFinalPatch: { afterMs: 100 }, staleStepReadMs: 50 });
    await call('PATCH', '/v1/workflows/executions/wf-1/steps/step-auto', { status: 'COMPLETED' });
    await call('GET', '/v1/workflows/executions/wf-1');
    t += 100;
    await call('GET', '/v1/workflows/executions/wf-1');
    sim.setFaults({ personFinalizesStep: { status: 'SKIPPED', afterMs: 100 } });
    await call('POST', '/v1/automation/executions', { entity_id: ENTITY, flow_id: 'flow-never', workflow_context: WORKFLOW_CONTEXT });
    t += 100;
    await call('GET', '/v1/workflows/executions/wf-1');
    sim.setFaults({});
    sim.scriptFault({ operation: 'workflow.updateStep', onlyFinalStepStatus: true, fault: 'droppedWrite' });
    await call('PATCH', '/v1/workflows/executions/wf-1/steps/step-auto', {
      status: 'FAILED',
      automationConfig: { flowId: 'flow-success', executionId: 'run-y', executionStatus: 'failed' },
    });
    await call('GET', '/v1/workflows/executions/wf-1');
  });

  afterAll(async () => {
    await sim.stop();
  });

  const isGuideSpelled = (exchange: RecordedExchange): boolean => exchange.path === '/v1/workflows/executions/wf-guide';

  it('exercised every operation, and successes and errors of each', () => {
    const operations = new Set(sim.traffic.map((exchange) => exchange.operation));
    for (const operation of OPERATIONS) expect(operations).toContain(operation);
    const statuses = new Set(sim.traffic.map((exchange) => exchange.status));
    for (const status of [0, 200, 201, 400, 401, 404, 413, 429, 502, 503]) expect(statuses).toContain(status);
    const runStatuses = new Set(
      sim.traffic
        .filter((exchange) => exchange.operation === 'automation.getExecution')
        .map((exchange) => (exchange.responseBody as { execution_status?: string } | undefined)?.execution_status),
    );
    for (const status of ['pending', 'in_progress', 'success', 'failed', 'skipped', 'hot']) expect(runStatuses).toContain(status);
  });

  it("keys each operation `${api}.${operationId}` with the operationId epilot's definition gives its route", () => {
    const keyed = new Map<string, string>();
    for (const exchange of sim.traffic) {
      if (exchange.operation === undefined) continue;
      const definition = findOperation(exchange.api, exchange.method, exchange.path);
      keyed.set(
        exchange.operation,
        definition ? `${definition.api}.${definition.operationId}` : `no operation for ${exchange.method} ${exchange.path}`,
      );
    }
    expect(Object.fromEntries(keyed)).toEqual(Object.fromEntries(OPERATIONS.map((operation) => [operation, operation])));
  });

  it('every recorded exchange matches the definitions', () => {
    const problems = sim.traffic
      .filter((exchange) => !isGuideSpelled(exchange))
      .flatMap((exchange) => validateExchange(exchange, { allowRejectedInvalidRequests: true }));
    expect(problems).toEqual([]);
  });

  describe('the validator is not vacuous', () => {
    const recorded = (operation: string, status: number): RecordedExchange => {
      const exchange = sim.traffic.find(
        (candidate) => candidate.operation === operation && candidate.status === status && candidate.responseBody !== undefined,
      );
      if (!exchange) throw new Error(`no recorded ${operation} ${status}`);
      return structuredClone(exchange);
    };

    it('rejects a wrong automation execution status and a missing required field', () => {
      const exchange = recorded('automation.getExecution', 200);
      (exchange.responseBody as Record<string, unknown>).execution_status = 'finished';
      delete (exchange.responseBody as Record<string, unknown>).entity_id;
      const errors = validateExchange(exchange);
      expect(errors.join('\n')).toMatch(/execution_status/);
      expect(errors.join('\n')).toMatch(/entity_id/);
    });

    it('rejects a search result whose _id is no uuid, and a search request with an unknown key that got a 200', () => {
      const exchange = recorded('entity.searchEntities', 200);
      const body = exchange.responseBody as { results: Array<Record<string, unknown>> };
      if (body.results[0]) body.results[0]._id = 'not-a-uuid';
      expect(validateExchange(exchange).join('\n')).toMatch(/_id/);
      const accepted = recorded('entity.searchEntities', 200);
      accepted.requestBody = { q: '*', limit: 10 };
      expect(validateExchange(accepted, { allowRejectedInvalidRequests: true }).join('\n')).toMatch(/additional properties \(limit\)/);
    });

    it('rejects the guide spelling of a step (type TASK / no type) and a bad step status', () => {
      const guide = sim.traffic.find(isGuideSpelled);
      expect(guide && validateExchange(guide).join('\n')).toMatch(/type/);
      const exchange = recorded('workflow.updateStep', 200);
      Object.assign(exchange.responseBody as Record<string, unknown>, { type: 'TASK', status: 'STARTED' });
      expect(validateExchange(exchange).length).toBeGreaterThanOrEqual(2);
    });

    it('rejects wrong error shapes, undeclared success statuses, unknown routes and unexpected empty bodies', () => {
      const workflow404 = recorded('workflow.updateStep', 404);
      workflow404.responseBody = { status: 404, error: 'Not Found' };
      expect(validateExchange(workflow404).join('\n')).toMatch(/message/);
      const automation404 = recorded('automation.getExecution', 404);
      automation404.responseBody = { message: 'Not Found' };
      expect(validateExchange(automation404).join('\n')).toMatch(/status|error/);
      const started = recorded('automation.startExecution', 201);
      started.status = 200;
      expect(validateExchange(started).join('\n')).toMatch(/not declared/);
      const run = recorded('automation.getExecution', 200);
      run.responseBody = undefined;
      expect(validateExchange(run).join('\n')).toMatch(/empty response body/);
      expect(
        validateExchange({
          method: 'GET',
          path: '/v1/nothing',
          status: 404,
          api: 'entity',
          requestBody: undefined,
          responseBody: { status: 404, error: 'x' },
        }),
      ).toHaveLength(1);
    });

    it('rejects an invalid request body a server refused, unless told that is expected', () => {
      const exchange = sim.traffic.find(
        (candidate) => candidate.operation === 'workflow.updateStep' && candidate.status === 400 && candidate.requestBody !== undefined,
      );
      expect(exchange).toBeDefined();
      if (!exchange) return;
      expect(validateExchange(exchange).join('\n')).toMatch(/request body/);
      expect(validateExchange(exchange, { allowRejectedInvalidRequests: true })).toEqual([]);
    });
  });
});
