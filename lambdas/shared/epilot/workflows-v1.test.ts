import nock from 'nock';
import type { Clock } from '../clock';
import { ErrorNames } from '../errors';
import { EpilotHttp } from './http';
import { strictNock } from '../../../test/support/handler-test-kit';
import { WorkflowsV1Engine } from './workflows-v1';

const BASE = 'https://epilot.test';
const TOKEN = 'workflow-token';

const noWaitClock: Clock = { now: () => Date.now(), sleep: async () => undefined };

function newEngine(options: { sendErrorObject?: boolean } = {}) {
  const http = new EpilotHttp({
    endpoints: { entity: BASE, workflow: BASE, automation: BASE },
    token: async () => TOKEN,
    timeoutMs: 1000,
    clock: noWaitClock,
  });
  return new WorkflowsV1Engine(http, options);
}

function execution(flow: unknown[], overrides: Record<string, unknown> = {}) {
  return { id: 'wf-1', status: 'STARTED', contexts: [{ id: 'entity-1', schema: 'opportunity' }], flow, ...overrides };
}

function replyWithExecution(body: unknown, id = 'wf-1') {
  return nock(BASE, { reqheaders: { authorization: `Bearer ${TOKEN}` } })
    .get(`/v1/workflows/executions/${id}`)
    .reply(200, body as nock.Body);
}

strictNock();

describe('WorkflowsV1Engine.loadTask', () => {
  it('finds a step at the top level of the flow (camelCase, as in the definition)', async () => {
    replyWithExecution(
      execution([
        { id: 'other', type: 'STEP', status: 'COMPLETED', executionType: 'MANUAL' },
        {
          id: 'task-1',
          type: 'STEP',
          name: 'Clean Energy',
          status: 'PENDING',
          executionType: 'AUTOMATION',
          automationConfig: { flowId: 'flow-1', executionId: 'run-1', executionStatus: 'in_progress' },
        },
      ]),
    );

    await expect(newEngine().loadTask('wf-1', 'task-1')).resolves.toEqual({
      found: true,
      workflowStatus: 'STARTED',
      entityId: 'entity-1',
      task: {
        id: 'task-1',
        name: 'Clean Energy',
        status: 'PENDING',
        executionType: 'AUTOMATION',
        flowId: 'flow-1',
        runId: 'run-1',
        runStatus: 'in_progress',
      },
    });
  });

  it('reads the guide’s spelling: execution_type and automationConfig.execution_id/execution_status', async () => {
    // The guide's own example (step 3), with its `type: "TASK"` and `entity_id` instead of `contexts`.
    replyWithExecution(
      {
        id: '85mk9wzyp98',
        status: 'STARTED',
        entity_id: '11111111-1111-1111-1111-111111111111',
        flow: [
          {
            id: '8tpx9mi4ryb',
            name: 'Clean Energy',
            type: 'TASK',
            status: 'STARTED',
            execution_type: 'AUTOMATION',
            automationConfig: { flowId: 'abc123-automation-flow-id', execution_id: null, execution_status: null },
          },
          { id: '7olrwq658ne', name: 'Conclusions', type: 'TASK', status: 'PENDING', execution_type: 'MANUAL' },
        ],
      },
      '85mk9wzyp98',
    );

    const view = await newEngine().loadTask('85mk9wzyp98', '8tpx9mi4ryb');

    expect(view).toEqual({
      found: true,
      workflowStatus: 'STARTED',
      entityId: '11111111-1111-1111-1111-111111111111',
      task: {
        id: '8tpx9mi4ryb',
        name: 'Clean Energy',
        status: 'STARTED',
        executionType: 'AUTOMATION',
        flowId: 'abc123-automation-flow-id',
        runId: undefined,
        runStatus: undefined,
      },
    });
  });

  it('reads the run from the snake_case automationConfig when it is set', async () => {
    replyWithExecution(
      execution([
        {
          id: 'task-1',
          execution_type: 'AUTOMATION',
          automationConfig: { flowId: 'f', execution_id: 'run-9', execution_status: 'success' },
        },
      ]),
    );

    const view = await newEngine().loadTask('wf-1', 'task-1');

    expect(view.task).toMatchObject({ runId: 'run-9', runStatus: 'success', executionType: 'AUTOMATION' });
  });

  it('prefers executionType over execution_type', async () => {
    replyWithExecution(execution([{ id: 'task-1', executionType: 'AUTOMATION', execution_type: 'MANUAL' }]));

    expect((await newEngine().loadTask('wf-1', 'task-1')).task?.executionType).toBe('AUTOMATION');
  });

  it('finds a step inside a section that has type SECTION', async () => {
    replyWithExecution(
      execution([
        { id: 'first', type: 'STEP', status: 'COMPLETED' },
        {
          id: 'section-1',
          type: 'SECTION',
          name: 'Research',
          steps: [
            { id: 'manual', type: 'STEP', status: 'COMPLETED', executionType: 'MANUAL' },
            { id: 'task-1', type: 'STEP', status: 'PENDING', executionType: 'AUTOMATION', automationConfig: { flowId: 'flow-1' } },
          ],
        },
      ]),
    );

    const view = await newEngine().loadTask('wf-1', 'task-1');

    expect(view.task).toEqual({
      id: 'task-1',
      name: undefined,
      status: 'PENDING',
      executionType: 'AUTOMATION',
      flowId: 'flow-1',
      runId: undefined,
      runStatus: undefined,
    });
  });

  it('finds a step inside a section without type (the definition’s own example), by its steps array', async () => {
    replyWithExecution(
      execution([
        { id: 'section-1', name: 'Research', steps: [{ id: 'task-0', executionType: 'MANUAL' }] },
        {
          id: 'section-2',
          name: 'Install',
          steps: [{ id: 'task-1', executionType: 'AUTOMATION', automationConfig: { flowId: 'flow-2' } }],
        },
      ]),
    );

    const view = await newEngine().loadTask('wf-1', 'task-1');

    expect(view.task).toMatchObject({ id: 'task-1', executionType: 'AUTOMATION', flowId: 'flow-2' });
  });

  it('does not mistake a section for the step when their ids collide', async () => {
    replyWithExecution(execution([{ id: 'task-1', type: 'SECTION', steps: [{ id: 'inner', executionType: 'MANUAL' }] }]));

    const view = await newEngine().loadTask('wf-1', 'task-1');

    expect(view).toMatchObject({ found: true, task: undefined });
  });

  it.each([
    [
      'statusLastUpdated',
      { statusLastUpdated: '2024-05-01T12:00:00.000Z', lastUpdated: '2024-05-01T13:00:00.000Z' },
      Date.parse('2024-05-01T12:00:00.000Z'),
    ],
    ['lastUpdated when the status never changed', { lastUpdated: '2024-05-01T13:00:00.000Z' }, Date.parse('2024-05-01T13:00:00.000Z')],
    ['nothing from unreadable times', { statusLastUpdated: 'yesterday' }, undefined],
    ['nothing without times', {}, undefined],
  ])('reads the time of the status change from %s', async (_case, times, expected) => {
    replyWithExecution(execution([{ id: 'task-1', type: 'STEP', status: 'IN_PROGRESS', executionType: 'AUTOMATION', ...times }]));

    const view = await newEngine().loadTask('wf-1', 'task-1');

    expect(view.task?.statusChangedAt).toEqual(expected);
  });

  it('reports found with no task when the step is not in the flow', async () => {
    replyWithExecution(execution([{ id: 'other', executionType: 'AUTOMATION' }]));

    await expect(newEngine().loadTask('wf-1', 'task-1')).resolves.toEqual({
      found: true,
      workflowStatus: 'STARTED',
      entityId: 'entity-1',
      task: undefined,
    });
  });

  it('accepts an execution without a flow', async () => {
    replyWithExecution({ id: 'wf-1', status: 'DONE' });

    await expect(newEngine().loadTask('wf-1', 'task-1')).resolves.toMatchObject({ found: true, workflowStatus: 'DONE', task: undefined });
  });

  it('reports found: false for a 200 with an empty body', async () => {
    nock(BASE).get('/v1/workflows/executions/missing').reply(200, '');

    await expect(newEngine().loadTask('missing', 'task-1')).resolves.toEqual({ found: false });
  });

  it('encodes the ids in the path', async () => {
    nock(BASE).get('/v1/workflows/executions/wf%2F1%3Fx').reply(200, '');

    await expect(newEngine().loadTask('wf/1?x', 'task-1')).resolves.toEqual({ found: false });
  });

  it('fails with InvalidEpilotDataError for an execution it cannot read', async () => {
    replyWithExecution({ status: 'STARTED', flow: 'not a list' });

    await expect(newEngine().loadTask('wf-1', 'task-1')).rejects.toMatchObject({ name: ErrorNames.invalidEpilotData });
  });

  it('fails with EpilotPermanentError for a 404', async () => {
    nock(BASE).get('/v1/workflows/executions/wf-1').reply(404, { message: 'Execution not found' });

    await expect(newEngine().loadTask('wf-1', 'task-1')).rejects.toMatchObject({
      name: ErrorNames.epilotPermanent,
      message: expect.stringContaining('getExecution'),
    });
  });
});

describe('WorkflowsV1Engine.completeTask', () => {
  function expectPatch(body: nock.RequestBodyMatcher, answer: { status: number; body?: string } = { status: 200, body: '{}' }) {
    return nock(BASE, { reqheaders: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } })
      .patch('/v1/workflows/executions/wf-1/steps/task-1', body)
      .reply(answer.status, answer.body ?? '');
  }

  it('patches the status with a camelCase automationConfig', async () => {
    const scope = expectPatch({
      status: 'COMPLETED',
      automationConfig: { flowId: 'flow-1', executionId: 'run-1', executionStatus: 'success' },
    });

    await newEngine().completeTask('wf-1', 'task-1', {
      status: 'COMPLETED',
      flowId: 'flow-1',
      runId: 'run-1',
      runStatus: 'success',
      reason: 'automation success',
    });

    expect(scope.isDone()).toBe(true);
  });

  it('answers epilot’s stamp of the status change when the answer shows the status written, and nothing otherwise', async () => {
    const patch = { status: 'COMPLETED', flowId: 'flow-1', runId: 'run-1' } as const;
    const answered = (body: Record<string, unknown>) => ({ status: 200, body: JSON.stringify({ id: 'task-1', ...body }) });
    const stamp = '2026-12-04T10:00:00.123Z';
    expectPatch(() => true, answered({ status: 'COMPLETED', statusLastUpdated: stamp }));
    expectPatch(() => true, answered({ status: 'IN_PROGRESS', statusLastUpdated: stamp }));
    expectPatch(() => true, answered({ status: 'COMPLETED', statusLastUpdated: 'yesterday' }));
    expectPatch(() => true, { status: 200, body: '' });

    const engine = newEngine();
    expect(await engine.completeTask('wf-1', 'task-1', patch)).toEqual({ statusChangedAt: Date.parse(stamp) });
    expect(await engine.completeTask('wf-1', 'task-1', patch)).toEqual({});
    expect(await engine.completeTask('wf-1', 'task-1', patch)).toEqual({});
    expect(await engine.completeTask('wf-1', 'task-1', patch)).toEqual({});
  });

  it('sends no error object by default, not even for a failure', async () => {
    let sent: unknown;
    nock(BASE)
      .patch('/v1/workflows/executions/wf-1/steps/task-1', (body: unknown) => {
        sent = body;
        return true;
      })
      .reply(204);

    await newEngine().completeTask('wf-1', 'task-1', {
      status: 'FAILED',
      flowId: 'flow-1',
      runId: 'run-1',
      runStatus: 'failed',
      reason: 'automation failed',
    });

    expect(sent).toEqual({ status: 'FAILED', automationConfig: { flowId: 'flow-1', executionId: 'run-1', executionStatus: 'failed' } });
    expect(sent).not.toHaveProperty('error');
    expect(JSON.stringify(sent)).not.toContain('execution_id');
  });

  it('leaves out the run fields it does not know', async () => {
    expectPatch({ status: 'FAILED', automationConfig: { flowId: 'flow-1' } });

    await newEngine().completeTask('wf-1', 'task-1', { status: 'FAILED', flowId: 'flow-1' });
  });

  it('sends the guide’s error object for a failure only when asked to', async () => {
    expectPatch({
      status: 'FAILED',
      automationConfig: { flowId: 'flow-1', executionId: 'run-1', executionStatus: 'hot' },
      error: { message: 'automation hot', code: 'AUTOMATION_FAILED' },
    });
    expectPatch({ status: 'COMPLETED', automationConfig: { flowId: 'flow-1', executionId: 'run-2', executionStatus: 'success' } });
    const engine = newEngine({ sendErrorObject: true });

    await engine.completeTask('wf-1', 'task-1', {
      status: 'FAILED',
      flowId: 'flow-1',
      runId: 'run-1',
      runStatus: 'hot',
      reason: 'automation hot',
    });
    await engine.completeTask('wf-1', 'task-1', {
      status: 'COMPLETED',
      flowId: 'flow-1',
      runId: 'run-2',
      runStatus: 'success',
      reason: 'automation success',
    });
  });

  it('does not retry a patch after a 5xx in place, but fails with EpilotTransientError (the retry reads the step again first)', async () => {
    nock(BASE).patch('/v1/workflows/executions/wf-1/steps/task-1').reply(503, { message: 'busy' });

    await expect(newEngine().completeTask('wf-1', 'task-1', { status: 'SKIPPED', flowId: 'flow-1' })).rejects.toMatchObject({
      name: ErrorNames.epilotTransient,
    });
  });

  it('does not retry the IN_PROGRESS note after a 5xx in place either', async () => {
    nock(BASE).patch('/v1/workflows/executions/wf-1/steps/task-1').reply(503, { message: 'busy' });

    await expect(newEngine().markTaskRunning('wf-1', 'task-1', { flowId: 'flow-1', runId: 'run-1' })).rejects.toMatchObject({
      name: ErrorNames.epilotTransient,
    });
  });

  it('fails with EpilotPermanentError when epilot refuses the patch', async () => {
    expectPatch({ status: 'COMPLETED', automationConfig: { flowId: 'flow-1' } }, { status: 400, body: '{"message":"Invalid status"}' });

    await expect(newEngine().completeTask('wf-1', 'task-1', { status: 'COMPLETED', flowId: 'flow-1' })).rejects.toMatchObject({
      name: ErrorNames.epilotPermanent,
      message: 'updateStep (PATCH /v1/workflows/executions/wf-1/steps/task-1) answered 400: Invalid status',
    });
  });
});

describe('WorkflowsV1Engine.markTaskRunning', () => {
  it('patches the step IN_PROGRESS with the flow and the run id (updateStep, camelCase automationConfig)', async () => {
    const scope = nock(BASE, { reqheaders: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } })
      .patch('/v1/workflows/executions/wf-1/steps/task-1', {
        status: 'IN_PROGRESS',
        automationConfig: { flowId: 'flow-1', executionId: 'run-1' },
      })
      .reply(200, '{}');

    await newEngine().markTaskRunning('wf-1', 'task-1', { flowId: 'flow-1', runId: 'run-1' });

    expect(scope.isDone()).toBe(true);
  });
});
