import { FaultInjector, seededRandom } from './faults';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEpilotSimulator, type EpilotSimulator, type EpilotSimulatorOptions } from './epilot-simulator';
import { generateOrganisation, indexUuid, loadSeedFile, SeedError, type SimulatorSeedInput } from './seed';

const TOKEN = 'test-token';
const ENTITY_A = '11111111-1111-4111-8111-111111111111';
const ENTITY_B = '22222222-2222-4222-8222-222222222222';
const ENTITY_C = '33333333-3333-4333-8333-333333333333';

/** A small organisation: A has an automation task then a manual one; B a manual task; C nothing. */
function smallSeed(): SimulatorSeedInput {
  return {
    entities: [
      { _id: ENTITY_A, _schema: 'opportunity', _title: 'Solar – A' },
      { _id: ENTITY_B, _schema: 'order', _title: 'Wallbox – B' },
      { _id: ENTITY_C, _schema: 'contact', _title: 'Contact – C' },
    ],
    flows: [
      { id: 'flow-ok', name: 'Succeeds', outcome: 'success', pendingMs: 100, durationMs: 1000 },
      { id: 'flow-fail', name: 'Fails', outcome: 'failed', pendingMs: 0, durationMs: 500 },
      { id: 'flow-hot', name: 'Disabled', outcome: 'hot' },
      { id: 'flow-never', name: 'Hangs', outcome: 'never', pendingMs: 0 },
    ],
    workflowExecutions: [
      {
        id: 'wf-a',
        definitionId: 'solarWf',
        name: 'Solar Workflow',
        entityIds: [ENTITY_A],
        flow: [
          {
            id: 'sec-1',
            name: 'Preparation',
            steps: [
              { id: 'a-done', name: 'Qualify', status: 'COMPLETED' },
              { id: 'a-auto', name: 'Send offer', executionType: 'AUTOMATION', automationConfig: { flowId: 'flow-ok' } },
            ],
          },
          { id: 'a-auto-2', name: 'Book installer', executionType: 'AUTOMATION', automationConfig: { flowId: 'flow-ok' } },
          { id: 'a-manual', name: 'Call customer' },
        ],
      },
      {
        id: 'wf-b',
        definitionId: 'wallboxWf',
        name: 'Wallbox Workflow',
        entityIds: [ENTITY_B],
        flow: [{ id: 'b-manual', name: 'Check address' }],
      },
    ],
  };
}

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

function client(sim: EpilotSimulator, token: string | null = TOKEN) {
  return async (method: string, path: string, body?: unknown, rawBody?: string): Promise<Reply> => {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (token !== null) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(`${sim.url}${path}`, {
      method,
      headers,
      body: rawBody ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  };
}

type Json = Record<string, unknown>;
const obj = (value: unknown): Json => value as Json;
const results = (reply: Reply): Json[] => obj(reply.json).results as Json[];

describe('epilot simulator', () => {
  let t: number;
  const clock = { now: () => t };
  let sim: EpilotSimulator;
  let call: ReturnType<typeof client>;

  async function start(extra: Partial<EpilotSimulatorOptions> = {}, seed: SimulatorSeedInput = smallSeed()): Promise<void> {
    await sim?.stop();
    sim = await startEpilotSimulator({ token: TOKEN, seed, clock, deterministicIds: true, ...extra });
    call = client(sim);
  }

  beforeEach(async () => {
    t = Date.parse('2024-05-01T10:00:00.000Z');
    await start();
  });
  afterEach(async () => {
    await sim.stop();
  });

  describe('auth', () => {
    it('answers 401 without or with a wrong bearer token, in each API error shape, and never records the token', async () => {
      const anonymous = client(sim, null);
      const wrong = client(sim, 'other');
      const search = await anonymous('POST', '/v1/entity:search', { q: '*' });
      expect(search.status).toBe(401);
      expect(search.json).toEqual({ status: 401, error: 'Unauthorized' });
      const execution = await wrong('GET', '/v1/workflows/executions/wf-a');
      expect(execution.status).toBe(401);
      expect(execution.json).toEqual({ message: 'Unauthorized' });
      const run = await wrong('GET', '/v1/automation/executions/x');
      expect(obj(run.json).status).toBe(401);
      expect(sim.callCounts()['entity.searchEntities']).toBe(0);
      await call('POST', '/v1/entity:search', { q: '*' });
      expect(JSON.stringify(sim.traffic)).not.toContain(TOKEN);
    });
  });

  describe('entity search', () => {
    it('validates the body like EntitySearchParams', async () => {
      const unknownKey = await call('POST', '/v1/entity:search', { q: '*', limit: 5 });
      expect(unknownKey.status).toBe(400);
      expect(obj(unknownKey.json).error).toContain('limit');
      expect(obj(unknownKey.json).status).toBe(400);
      expect((await call('POST', '/v1/entity:search', { size: 5 })).status).toBe(400);
      const tooBig = await call('POST', '/v1/entity:search', { q: '*', size: 1001 });
      expect(tooBig.status).toBe(400);
      expect(obj(tooBig.json).error).toContain('size');
      expect((await call('POST', '/v1/entity:search', { q: '*', size: 1000 })).status).toBe(200);
      expect((await call('POST', '/v1/entity:search', { q: 42 })).status).toBe(400);
    });

    it('refuses unsupported query syntax, naming it', async () => {
      for (const [q, named] of [
        ['solar', 'solar'],
        ['_title:Sol*', 'wildcard'],
        ['a:1 b:2', 'implicit operator'],
        ['a:1 && b:2', '&&'],
        ['_created_at:[2020 TO 2021]', 'range'],
        ['wf.task_*:x', 'task_*'],
      ]) {
        const reply = await call('POST', '/v1/entity:search', { q });
        expect(reply.status).toBe(400);
        expect(obj(reply.json).error).toContain(named);
      }
    });

    it('matches field:value, quoted values, _exists_, AND/OR/NOT and * path segments', async () => {
      const ids = async (q: string): Promise<string[]> =>
        results(await call('POST', '/v1/entity:search', { q })).map((entity) => String(entity._id));
      expect(await ids('*')).toEqual([ENTITY_A, ENTITY_B, ENTITY_C]);
      expect(await ids('_schema:order')).toEqual([ENTITY_B]);
      expect(await ids('_title:"Solar – A"')).toEqual([ENTITY_A]);
      expect(await ids('_exists_:workflows')).toEqual([ENTITY_A, ENTITY_B]);
      expect(await ids('workflows.*.task_execution_type:AUTOMATION')).toEqual([ENTITY_A]);
      expect(await ids('workflows.primary.task_execution_type:MANUAL')).toEqual([ENTITY_B]);
      expect(await ids('_schema:order OR _schema:contact')).toEqual([ENTITY_B, ENTITY_C]);
      expect(await ids('_exists_:workflows AND NOT _schema:order')).toEqual([ENTITY_A]);
      expect(await ids('(_schema:order OR _schema:opportunity) AND workflows.solarWf.status:STARTED')).toEqual([ENTITY_A]);
    });

    it('computes workflows from the executions: current task, phase, primary', async () => {
      const [entity] = results(await call('POST', '/v1/entity:search', { q: `_id:"${ENTITY_A}"` }));
      const workflows = obj(obj(entity).workflows);
      const [summary] = workflows.solarWf as Json[];
      expect(summary).toMatchObject({
        id: 'wf-a',
        definition_id: 'solarWf',
        name: 'Solar Workflow',
        status: 'STARTED',
        task_id: 'a-auto',
        task_name: 'Send offer',
        task_execution_type: 'AUTOMATION',
        task_status: 'PENDING',
        phase_id: 'sec-1',
        phase_name: 'Preparation',
      });
      expect(workflows.primary).toEqual(summary);
    });

    it('pages with from/size across several pages, stably by _id, with the total in hits', async () => {
      await start({}, generateOrganisation({ entities: 25, automationTasks: 3, manualTasks: 2 }));
      const seen: string[] = [];
      for (let from = 0; from < 30; from += 10) {
        const reply = await call('POST', '/v1/entity:search', { q: '*', from, size: 10 });
        expect(obj(reply.json).hits).toBe(25);
        seen.push(...results(reply).map((entity) => String(entity._id)));
      }
      const expected = Array.from({ length: 25 }, (_, i) => indexUuid(i)).sort();
      expect(seen).toEqual(expected);
    });

    it('deep-pages with sort + search_after = previous sort_end, and stops with no sort_end', async () => {
      await start({}, generateOrganisation({ entities: 25, automationTasks: 3, manualTasks: 2 }));
      const seen: string[] = [];
      let after: unknown;
      let pages = 0;
      for (;;) {
        const reply = await call('POST', '/v1/entity:search', { q: '*', size: 7, sort: '_id', ...(after ? { search_after: after } : {}) });
        expect(reply.status).toBe(200);
        const page = results(reply);
        if (page.length === 0) {
          expect(obj(reply.json).sort_end).toBeUndefined();
          break;
        }
        pages++;
        seen.push(...page.map((entity) => String(entity._id)));
        after = obj(reply.json).sort_end;
        expect(after).toEqual([page[page.length - 1]?._id]);
      }
      expect(pages).toBe(4);
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => indexUuid(i)).sort());

      const descending = results(await call('POST', '/v1/entity:search', { q: '*', size: 3, sort: '_id:desc' }));
      expect(descending.map((entity) => entity._id)).toEqual(seen.slice(-3).reverse());
      expect((await call('POST', '/v1/entity:search', { q: '*', search_after: [seen[0]] })).status).toBe(400);
    });

    it('finds the generated automation tasks among 100,000 entities quickly', async () => {
      const seed = generateOrganisation({ entities: 100_000, automationTasks: 500, manualTasks: 500 });
      const started = Date.now();
      await start({ recordTraffic: false }, seed);
      const found: string[] = [];
      let after: unknown;
      for (;;) {
        const reply = await call('POST', '/v1/entity:search', {
          q: 'workflows.*.task_execution_type:AUTOMATION',
          size: 200,
          sort: '_id',
          fields: ['_id', 'workflows'],
          ...(after ? { search_after: after } : {}),
        });
        const page = results(reply);
        if (page.length === 0) break;
        found.push(...page.map((entity) => String(entity._id)));
        after = obj(reply.json).sort_end;
      }
      expect(found).toHaveLength(500);
      expect(sim.traffic).toHaveLength(0);
      expect(Date.now() - started).toBeLessThan(15_000);
    });
  });

  describe('workflow executions', () => {
    it('getStep gives a step as GET serves it, inside a section or not, and undefined for unknown ids', async () => {
      const served = obj((await call('GET', '/v1/workflows/executions/wf-a')).json);
      const [section, topLevel] = served.flow as Json[];
      expect(sim.getStep('wf-a', 'a-auto')).toEqual((obj(section).steps as Json[])[1]);
      expect(sim.getStep('wf-a', 'a-auto-2')).toEqual(topLevel);
      expect(sim.getStep('wf-a', 'no-such-step')).toBeUndefined();
      expect(sim.getStep('no-such-execution', 'a-auto')).toBeUndefined();
    });

    it('serves the v1 execution in camelCase with sections, steps and contexts', async () => {
      const reply = await call('GET', '/v1/workflows/executions/wf-a');
      expect(reply.status).toBe(200);
      const execution = obj(reply.json);
      expect(execution).toMatchObject({
        id: 'wf-a',
        definitionId: 'solarWf',
        status: 'STARTED',
        contexts: [{ id: ENTITY_A, title: 'Solar – A', schema: 'opportunity' }],
      });
      const [section, step] = execution.flow as Json[];
      expect(section).toMatchObject({ id: 'sec-1', type: 'SECTION' });
      expect((obj(section).steps as Json[])[1]).toMatchObject({
        id: 'a-auto',
        type: 'STEP',
        executionType: 'AUTOMATION',
        automationConfig: { flowId: 'flow-ok' },
      });
      expect(step).toMatchObject({ id: 'a-auto-2', type: 'STEP', status: 'PENDING' });
    });

    it('answers an unknown execution with 200 and an empty body', async () => {
      const reply = await call('GET', '/v1/workflows/executions/does-not-exist');
      expect(reply.status).toBe(200);
      expect(reply.text).toBe('');
    });

    it('can serve a step in the guide spelling', async () => {
      sim.addWorkflowExecution({
        id: 'wf-guide',
        definitionId: 'd',
        name: 'Guide',
        entityIds: [ENTITY_C],
        flow: [{ id: 'g1', name: 'Auto', executionType: 'AUTOMATION', automationConfig: { flowId: 'flow-ok' }, guideSpelling: true }],
      });
      const [step] = obj((await call('GET', '/v1/workflows/executions/wf-guide')).json).flow as Json[];
      expect(step).toEqual(
        expect.objectContaining({
          execution_type: 'AUTOMATION',
          automationConfig: { flowId: 'flow-ok', execution_id: null, execution_status: null },
        }),
      );
      expect(step).not.toHaveProperty('type');
      expect(step).not.toHaveProperty('executionType');
    });

    it('a PATCH updates the step, moves the current task, and finally makes the workflow DONE', async () => {
      t += 5_000;
      const patched = await call('PATCH', '/v1/workflows/executions/wf-a/steps/a-auto', {
        status: 'COMPLETED',
        automationConfig: { flowId: 'flow-ok', executionId: 'run-1', executionStatus: 'success' },
      });
      expect(patched.status).toBe(200);
      expect(patched.json).toMatchObject({
        id: 'a-auto',
        status: 'COMPLETED',
        automationConfig: { flowId: 'flow-ok', executionId: 'run-1', executionStatus: 'success' },
        completedTime: new Date(t).toISOString(),
      });
      const summary = async (): Promise<Json> =>
        obj(obj(results(await call('POST', '/v1/entity:search', { q: `_id:"${ENTITY_A}"` }))[0]?.workflows).primary);
      expect(await summary()).toMatchObject({ task_id: 'a-auto-2', task_execution_type: 'AUTOMATION' });
      expect(sim.stepPatchCount('wf-a', 'a-auto')).toBe(1);

      await call('PATCH', '/v1/workflows/executions/wf-a/steps/a-auto-2', { status: 'FAILED', automationConfig: { flowId: 'flow-ok' } });
      expect(await summary()).toMatchObject({ task_id: 'a-manual', task_execution_type: 'MANUAL' });
      await call('PATCH', '/v1/workflows/executions/wf-a/steps/a-manual', { status: 'SKIPPED' });
      const done = await summary();
      expect(done.status).toBe('DONE');
      expect(done).not.toHaveProperty('task_id');
      expect(sim.getWorkflowExecution('wf-a')).toMatchObject({ status: 'DONE', completedTime: new Date(t).toISOString() });
    });

    it('rejects invalid step updates with 400 and unknown ids with 404, as {message}', async () => {
      const badStatus = await call('PATCH', '/v1/workflows/executions/wf-a/steps/a-auto', { status: 'DONE' });
      expect(badStatus.status).toBe(400);
      expect(obj(badStatus.json).message).toContain('status');
      const noFlowId = await call('PATCH', '/v1/workflows/executions/wf-a/steps/a-auto', {
        status: 'COMPLETED',
        automationConfig: { executionId: 'x' },
      });
      expect(noFlowId.status).toBe(400);
      expect(obj(noFlowId.json).message).toContain('flowId');
      const unknownExecution = await call('PATCH', '/v1/workflows/executions/nope/steps/a-auto', { status: 'COMPLETED' });
      expect(unknownExecution.status).toBe(404);
      expect(unknownExecution.json).toEqual({ message: expect.stringContaining('nope') });
      const unknownStep = await call('PATCH', '/v1/workflows/executions/wf-a/steps/nope', { status: 'COMPLETED' });
      expect(unknownStep.status).toBe(404);
      expect(sim.stepPatchCount('wf-a', 'a-auto')).toBe(0);
    });

    it('keeps showing a patched task in the search while the seeded summary lag lasts', async () => {
      sim.addWorkflowExecution({
        id: 'wf-lag',
        definitionId: 'lagWf',
        name: 'Lagging',
        entityIds: [ENTITY_C],
        summaryLagMs: 3_000,
        flow: [
          { id: 'l1', name: 'First', executionType: 'AUTOMATION', automationConfig: { flowId: 'flow-ok' } },
          { id: 'l2', name: 'Second' },
        ],
      });
      const taskId = async (): Promise<unknown> => obj(obj(sim.getEntity(ENTITY_C)?.workflows).primary).task_id;
      await call('PATCH', '/v1/workflows/executions/wf-lag/steps/l1', { status: 'COMPLETED' });
      expect(await taskId()).toBe('l1');
      expect(obj(sim.getWorkflowExecution('wf-lag')).nextOpenStep).toEqual({ id: 'l2' });
      t += 3_000;
      expect(await taskId()).toBe('l2');
    });
  });

  describe('automation executions', () => {
    const start201 = async (flowId: string, entityId = ENTITY_A): Promise<Json> => {
      const reply = await call('POST', '/v1/automation/executions', {
        entity_id: entityId,
        flow_id: flowId,
        workflow_context: { workflow_exec_id: 'wf-a', workflow_exec_task_id: 'a-auto', workflow_role: 'run_task_automation' },
      });
      expect(reply.status).toBe(201);
      return obj(reply.json);
    };
    const status = async (id: unknown): Promise<unknown> =>
      obj((await call('GET', `/v1/automation/executions/${String(id)}`)).json).execution_status;

    it('starts a run (201, pending) that moves to its outcome as the clock advances', async () => {
      const run = await start201('flow-ok');
      expect(run).toMatchObject({
        execution_status: 'pending',
        entity_id: ENTITY_A,
        flow_id: 'flow-ok',
        flow_name: 'Succeeds',
        workflow_context: { workflow_exec_task_id: 'a-auto' },
      });
      expect(run.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(await status(run.id)).toBe('pending');
      t += 100;
      expect(await status(run.id)).toBe('in_progress');
      t += 999;
      expect(await status(run.id)).toBe('in_progress');
      t += 1;
      expect(await status(run.id)).toBe('success');
      const done = obj((await call('GET', `/v1/automation/executions/${String(run.id)}`)).json);
      expect(done.updated_at).toBe(new Date(t).toISOString());
    });

    it('runsFor lists the runs started with a task in their workflow context, oldest first, and nothing for another task', async () => {
      const first = await start201('flow-ok');
      const second = await start201('flow-fail');
      await call('POST', '/v1/automation/executions', { entity_id: ENTITY_A, flow_id: 'flow-ok' });
      expect(sim.runsFor('wf-a', 'a-auto').map((run) => run.id)).toEqual([first.id, second.id]);
      expect(sim.runsFor('wf-a', 'a-auto-2')).toEqual([]);
      expect(sim.listAutomationRuns()).toHaveLength(3);
    });

    it('plays failed, hot and never-finishing flows', async () => {
      const failed = await start201('flow-fail');
      const hot = await start201('flow-hot');
      const never = await start201('flow-never');
      expect(hot.execution_status).toBe('pending');
      expect(await status(hot.id)).toBe('hot');
      t += 600;
      expect(await status(failed.id)).toBe('failed');
      t += 24 * 3600 * 1000;
      expect(await status(never.id)).toBe('in_progress');
    });

    it('cancels a running run with DELETE, and leaves a finished one alone', async () => {
      const running = await start201('flow-never');
      const cancelled = await call('DELETE', `/v1/automation/executions/${String(running.id)}`);
      expect(cancelled.status).toBe(200);
      expect(obj(cancelled.json).execution_status).toBe('cancelled');
      const hot = await start201('flow-hot');
      expect(obj((await call('DELETE', `/v1/automation/executions/${String(hot.id)}`)).json).execution_status).toBe('hot');
      expect((await call('DELETE', '/v1/automation/executions/nope')).status).toBe(404);
    });

    it('lists runs of an entity newest first, with paging and total', async () => {
      const first = await start201('flow-ok');
      t += 10;
      const second = await start201('flow-fail');
      await start201('flow-ok', ENTITY_B);
      const list = obj((await call('GET', `/v1/automation/executions?entity_id=${ENTITY_A}`)).json);
      expect(list.total).toBe(2);
      expect((list.results as Json[]).map((run) => run.id)).toEqual([second.id, first.id]);
      const page = obj((await call('GET', `/v1/automation/executions?entity_id=${ENTITY_A}&size=1&from=1`)).json);
      expect((page.results as Json[]).map((run) => run.id)).toEqual([first.id]);
      expect((await call('GET', '/v1/automation/executions?size=-1')).status).toBe(400);
      expect(sim.listAutomationRuns().map((run) => run.status)).toEqual(['pending', 'in_progress', 'pending']);
    });

    it('rejects bad start requests: missing fields 400, unknown flow 404, as {status, error}', async () => {
      const missing = await call('POST', '/v1/automation/executions', { entity_id: ENTITY_A });
      expect(missing.status).toBe(400);
      expect(obj(missing.json)).toEqual({ status: 400, error: expect.stringContaining('flow_id') });
      const unknownFlow = await call('POST', '/v1/automation/executions', { entity_id: ENTITY_A, flow_id: 'nope' });
      expect(unknownFlow.status).toBe(404);
      expect(obj(unknownFlow.json).status).toBe(404);
      expect((await call('GET', '/v1/automation/executions/nope')).status).toBe(404);
      expect(sim.listAutomationRuns()).toHaveLength(0);
    });
  });

  describe('faults', () => {
    const startBody = {
      entity_id: ENTITY_A,
      flow_id: 'flow-ok',
      workflow_context: { workflow_exec_id: 'wf-a', workflow_exec_task_id: 'a-auto', workflow_role: 'run_task_automation' },
    };

    it('a lost start response still creates the run (reset, or 502)', async () => {
      sim.scriptFault({ operation: 'automation.startExecution', fault: 'lostResponse' });
      await expect(call('POST', '/v1/automation/executions', startBody)).rejects.toThrow();
      expect(sim.listAutomationRuns()).toHaveLength(1);
      const listed = obj((await call('GET', `/v1/automation/executions?entity_id=${ENTITY_A}`)).json);
      expect((listed.results as Json[])[0]?.workflow_context).toMatchObject({ workflow_exec_task_id: 'a-auto' });

      sim.setFaults({ lostStartResponseRate: 1, lostResponseAs: 'badGateway' });
      const lost = await call('POST', '/v1/automation/executions', startBody);
      expect(lost.status).toBe(502);
      expect(lost.json).toEqual({ status: 502, error: 'Bad Gateway' });
      expect(sim.listAutomationRuns()).toHaveLength(2);
      expect(
        sim.traffic
          .filter((exchange) => exchange.operation === 'automation.startExecution')
          .map((exchange) => [exchange.status, exchange.fault]),
      ).toEqual([
        [0, 'scripted:lostResponse'],
        [502, 'random:lostStartResponse'],
      ]);
    });

    it('scripted faults hit the next matching calls only, in order', async () => {
      sim.scriptFault({ operation: 'workflow.getExecution', times: 2, fault: 'serverError' });
      sim.scriptFault({ operation: 'workflow.getExecution', fault: 'tooManyRequests' });
      sim.scriptFault({ operation: 'entity.searchEntities', fault: { status: 418, body: { status: 418, error: 'teapot' } } });
      sim.scriptFault({ operation: 'workflow.updateStep', fault: 'reset' });
      const first = await call('GET', '/v1/workflows/executions/wf-a');
      expect(first.status).toBe(503);
      expect(first.json).toEqual({ message: 'Service Unavailable' });
      expect((await call('GET', '/v1/workflows/executions/wf-a')).status).toBe(503);
      const limited = await call('GET', '/v1/workflows/executions/wf-a');
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('1');
      expect((await call('GET', '/v1/workflows/executions/wf-a')).status).toBe(200);
      expect((await call('POST', '/v1/entity:search', { q: '*' })).status).toBe(418);
      await expect(call('PATCH', '/v1/workflows/executions/wf-a/steps/a-auto', { status: 'COMPLETED' })).rejects.toThrow();
      expect(sim.stepPatchCount('wf-a', 'a-auto')).toBe(0);
      expect(sim.callCounts()).toMatchObject({ 'workflow.getExecution': 4, 'entity.searchEntities': 1, 'workflow.updateStep': 1 });
    });

    it("a burst of 401s answers the next N calls of any API 401 with that API's error body, changing nothing, then serves again", async () => {
      sim.scriptFault({ operation: '*', times: 3, fault: 'unauthorized' });
      const refused = await call('GET', '/v1/workflows/executions/wf-a');
      expect(refused.status).toBe(401);
      expect(refused.json).toEqual({ message: 'Unauthorized' });
      expect((await call('POST', '/v1/entity:search', { q: '*' })).status).toBe(401);
      expect((await call('PATCH', '/v1/workflows/executions/wf-a/steps/a-auto', { status: 'COMPLETED' })).status).toBe(401);
      expect(sim.stepPatchCount('wf-a', 'a-auto')).toBe(0);
      expect((await call('GET', '/v1/workflows/executions/wf-a')).status).toBe(200);
      expect(sim.traffic.filter((exchange) => exchange.fault === 'scripted:401')).toHaveLength(3);
    });

    it('a scripted lost PATCH response applies the patch', async () => {
      sim.scriptFault({ operation: 'workflow.updateStep', fault: 'lostResponse' });
      await expect(call('PATCH', '/v1/workflows/executions/wf-a/steps/a-auto', { status: 'COMPLETED' })).rejects.toThrow();
      expect(sim.stepPatchCount('wf-a', 'a-auto')).toBe(1);
    });

    const stepOf = async (): Promise<Json> => {
      const served = obj((await call('GET', '/v1/workflows/executions/wf-a')).json);
      const [section] = served.flow as Json[];
      const step = (obj(section).steps as Json[]).find((candidate) => candidate.id === 'a-auto');
      return obj(step);
    };

    it('a scripted droppedWrite answers a final step PATCH 200 as if applied, applies nothing, and skips non-final PATCHes', async () => {
      sim.scriptFault({ operation: 'workflow.updateStep', onlyFinalStepStatus: true, fault: 'droppedWrite' });
      const noted = await call('PATCH', '/v1/workflows/executions/wf-a/steps/a-auto', {
        status: 'IN_PROGRESS',
        automationConfig: { flowId: 'flow-ok', executionId: 'run-1' },
      });
      expect(obj(noted.json).status).toBe('IN_PROGRESS');

      const dropped = await call('PATCH', '/v1/workflows/executions/wf-a/steps/a-auto', { status: 'COMPLETED' });

      expect(dropped.status).toBe(200);
      expect(obj(dropped.json).status).toBe('COMPLETED');
      expect(sim.getStep('wf-a', 'a-auto')?.status).toBe('IN_PROGRESS');
      expect(sim.stepPatchCount('wf-a', 'a-auto')).toBe(0);
      expect(sim.traffic.at(-1)?.fault).toBe('scripted:droppedWrite');
    });

    it('staleStepReadMs serves a step as before its last PATCH for that long, then fresh', async () => {
      sim.setFaults({ staleStepReadMs: 5000 });
      await call('PATCH', '/v1/workflows/executions/wf-a/steps/a-auto', { status: 'COMPLETED' });

      t += 4999;
      expect((await stepOf()).status).toBe('PENDING');
      expect(sim.getStep('wf-a', 'a-auto')?.status).toBe('COMPLETED');
      t += 1;
      expect((await stepOf()).status).toBe('COMPLETED');
    });

    it('personFinalizesStep finalizes the step of a started run after afterMs, keeps the run going, and counts no PATCH', async () => {
      sim.setFaults({ personFinalizesStep: { status: 'SKIPPED', afterMs: 300 } });
      const run = obj((await call('POST', '/v1/automation/executions', startBody)).json);

      t += 299;
      expect((await stepOf()).status).toBe('PENDING');
      t += 1;
      const step = await stepOf();

      expect(step.status).toBe('SKIPPED');
      expect(step.statusLastUpdated).toBe(new Date(t).toISOString());
      expect(sim.getAutomationRun(String(run.id))?.execution_status).toBe('in_progress');
      expect(sim.stepPatchCount('wf-a', 'a-auto')).toBe(0);
      expect(sim.getStepPatches('wf-a', 'a-auto').map((patch) => patch.by)).toEqual(['epilot']);
    });

    it('reopenStepAfterFinalPatch reopens a finalized AUTOMATION step once, keeping its executionId, with statusLastUpdated moved', async () => {
      sim.setFaults({ reopenStepAfterFinalPatch: { afterMs: 1000 } });
      await call('PATCH', '/v1/workflows/executions/wf-a/steps/a-auto', {
        status: 'COMPLETED',
        automationConfig: { flowId: 'flow-ok', executionId: 'run-1', executionStatus: 'success' },
      });
      const patchedAt = t;

      t += 1000;
      const reopened = await stepOf();
      expect(reopened).toMatchObject({ status: 'PENDING', automationConfig: { flowId: 'flow-ok', executionId: 'run-1' } });
      expect(reopened.statusLastUpdated).toBe(new Date(patchedAt + 1000).toISOString());

      await call('PATCH', '/v1/workflows/executions/wf-a/steps/a-auto', { status: 'COMPLETED' });
      t += 5000;
      expect((await stepOf()).status).toBe('COMPLETED');
    });

    it('emptyStartBodyRate creates the run and answers 201 with an empty body', async () => {
      sim.setFaults({ emptyStartBodyRate: 1 });
      const answered = await call('POST', '/v1/automation/executions', startBody);
      expect([answered.status, answered.text]).toEqual([201, '']);
      expect(sim.listAutomationRuns()).toHaveLength(1);
      expect(sim.traffic.at(-1)?.fault).toBe('random:emptyStartBody');
    });

    it('slowStartRate holds a start slowStartMs before creating its run, so a client that gave up sees the run created later', async () => {
      sim.setFaults({ slowStartRate: 1, slowStartMs: 300 });
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 50);
      const gaveUp = fetch(`${sim.url}/v1/automation/executions`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(startBody),
        signal: controller.signal,
      });
      await expect(gaveUp).rejects.toThrow();
      clearTimeout(timer);
      expect(sim.listAutomationRuns()).toHaveLength(0);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(sim.listAutomationRuns()).toHaveLength(1);
    });

    it('droppedFinalPatchRate answers final step PATCHes 200 without applying them, and applies non-final ones', async () => {
      sim.setFaults({ droppedFinalPatchRate: 1 });
      await call('PATCH', '/v1/workflows/executions/wf-a/steps/a-auto', { status: 'IN_PROGRESS' });
      const dropped = await call('PATCH', '/v1/workflows/executions/wf-a/steps/a-auto', { status: 'COMPLETED' });
      expect([dropped.status, obj(dropped.json).status]).toEqual([200, 'COMPLETED']);
      expect(sim.getStep('wf-a', 'a-auto')?.status).toBe('IN_PROGRESS');
      expect(sim.traffic.at(-1)?.fault).toBe('random:droppedFinalPatch');
    });

    it('a rate on personFinalizesStep and reopenStepAfterFinalPatch picks about that share of runs and patches; no rate picks all', () => {
      const injector = new FaultInjector(seededRandom(7), {
        personFinalizesStep: { status: 'SKIPPED', afterMs: 0, rate: 0.3 },
        reopenStepAfterFinalPatch: { afterMs: 0, rate: 0.1 },
      });
      const picked = (draw: () => unknown) => Array.from({ length: 1000 }, draw).filter((option) => option !== undefined).length;
      expect(picked(() => injector.personFinalizesThisRun())).toBeGreaterThan(250);
      expect(picked(() => injector.personFinalizesThisRun())).toBeLessThan(350);
      expect(picked(() => injector.reopensThisStep())).toBeGreaterThan(60);
      expect(picked(() => injector.reopensThisStep())).toBeLessThan(140);
      injector.set({ personFinalizesStep: { status: 'SKIPPED', afterMs: 0 } });
      expect(picked(() => injector.personFinalizesThisRun())).toBe(1000);
      expect(picked(() => injector.reopensThisStep())).toBe(0);
    });

    it('random faults are deterministic for a given random source and can change at runtime', async () => {
      const statusesWith = async (seed: number): Promise<number[]> => {
        await start({ random: seededRandom(seed), faults: { serverErrorRate: 0.3, tooManyRequestsRate: 0.3, retryAfterSeconds: 7 } });
        const statuses: number[] = [];
        for (let i = 0; i < 20; i++) statuses.push((await call('GET', '/v1/workflows/executions/wf-a')).status);
        return statuses;
      };
      const first = await statusesWith(42);
      expect(await statusesWith(42)).toEqual(first);
      expect(first).toEqual(expect.arrayContaining([200, 429]));
      expect(first.some((status) => status === 502 || status === 503)).toBe(true);
      expect(sim.traffic.find((exchange) => exchange.status === 429)?.responseBody).toEqual({
        message: 'Too many requests. Try again later.',
      });

      sim.setFaults({});
      for (let i = 0; i < 5; i++) expect((await call('GET', '/v1/workflows/executions/wf-a')).status).toBe(200);
      sim.setFaults({ resetRate: 1 });
      await expect(call('GET', '/v1/workflows/executions/wf-a')).rejects.toThrow();
      expect(() => sim.setFaults({ resetRate: 2 })).toThrow(/resetRate/);
    });

    it('adds latency', async () => {
      sim.setFaults({ latencyMs: { min: 60, max: 80 } });
      const started = Date.now();
      await call('GET', '/v1/workflows/executions/wf-a');
      expect(Date.now() - started).toBeGreaterThanOrEqual(55);
      sim.setFaults({});
      sim.scriptFault({ operation: '*', fault: { delayMs: 60 } });
      const again = Date.now();
      expect((await call('POST', '/v1/entity:search', { q: '*' })).status).toBe(200);
      expect(Date.now() - again).toBeGreaterThanOrEqual(55);
    });
  });

  describe('HTTP edges', () => {
    it('answers 413 to bodies over 5 MB and 400 to malformed JSON', async () => {
      const big = await call('POST', '/v1/entity:search', undefined, JSON.stringify({ q: '*', pad: 'x'.repeat(5 * 1024 * 1024) }));
      expect(big.status).toBe(413);
      expect(obj(big.json).status).toBe(413);
      const malformed = await call('PATCH', '/v1/workflows/executions/wf-a/steps/a-auto', undefined, '{"status": ');
      expect(malformed.status).toBe(400);
      expect(obj(malformed.json).message).toMatch(/Malformed JSON/);
      expect((await call('POST', '/v1/automation/executions', undefined, 'nope')).status).toBe(400);
    });

    it('answers 404 to any other route', async () => {
      expect((await call('GET', '/v1/entity:search')).status).toBe(404);
      expect((await call('GET', '/v2/flows/executions/x')).status).toBe(404);
      expect((await call('PUT', '/v1/automation/executions/x')).status).toBe(404);
      expect((await call('GET', '/')).status).toBe(404);
    });

    it('stop() closes keep-alive connections and is idempotent', async () => {
      await call('GET', '/v1/workflows/executions/wf-a');
      await sim.stop();
      await sim.stop();
      await expect(call('GET', '/v1/workflows/executions/wf-a')).rejects.toThrow();
    });
  });

  describe('seeds', () => {
    it('loadSeedFile names the file and the bad field', () => {
      const dir = mkdtempSync(join(tmpdir(), 'sim-seed-'));
      const file = join(dir, 'bad.json');
      const seed = smallSeed();
      const flow = seed.workflowExecutions?.[0]?.flow?.[1];
      if (flow && !('steps' in flow)) flow.status = 'DONE' as never;
      writeFileSync(file, JSON.stringify(seed));
      expect(() => loadSeedFile(file)).toThrow(SeedError);
      expect(() => loadSeedFile(file)).toThrow(
        new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*workflowExecutions\\[0\\]\\.flow\\[1\\]\\.status`),
      );

      writeFileSync(
        file,
        JSON.stringify({
          ...smallSeed(),
          workflowExecutions: [
            { id: 'w', definitionId: 'd', name: 'n', entityIds: [ENTITY_C.replace('3', '4')], flow: [{ id: 's', name: 'S' }] },
          ],
        }),
      );
      expect(() => loadSeedFile(file)).toThrow(/workflowExecutions\[0\]\.entityIds\[0\]: unknown entity/);
      writeFileSync(file, '{ nope');
      expect(() => loadSeedFile(file)).toThrow(/bad\.json is not valid JSON/);
    });

    it('the demo organisation loads and covers every outcome', () => {
      const seed = loadSeedFile(join(__dirname, 'demo-organisation.json'));
      expect(new Set(seed.flows.map((flow) => flow.outcome))).toEqual(
        new Set(['success', 'failed', 'cancelled', 'skipped', 'hot', 'never']),
      );
      for (const flow of seed.flows) expect(flow.pendingMs + (flow.outcome === 'never' ? 0 : flow.durationMs)).toBeLessThanOrEqual(4000);
    });

    it('load() adds data at runtime and refuses duplicates', async () => {
      expect(() => sim.addEntity({ _id: ENTITY_A, _schema: 'opportunity', _title: 'again' })).toThrow(/duplicate entity/);
      sim.addEntity({ _id: indexUuid(7), _schema: 'opportunity', _title: 'New' });
      expect(obj((await call('POST', '/v1/entity:search', { q: '_title:New' })).json).hits).toBe(1);
      sim.addFlow({ id: 'flow-ok', name: 'Now fails', outcome: 'failed', pendingMs: 0, durationMs: 0 });
      const reply = await call('POST', '/v1/automation/executions', { entity_id: ENTITY_A, flow_id: 'flow-ok' });
      expect(obj(reply.json).flow_name).toBe('Now fails');
    });
  });
});
