import { seededRandom } from '../../simulator/faults';
import type { SweepReport, TaskExecutionReport } from '../../local/runner/local-runner';
import { summarizeTask } from '../../local/cli/report';
import { DEMO_ENTITY, DEMO_SEED, type Pipeline, singleTaskWorkflow, startPipeline } from '../support/local-pipeline';

/**
 * The real local pipeline against a misbehaving epilot: every scenario must end with no duplicate automation run
 * and no automation task left unpatched (or, where nothing may start, nothing started and nothing patched).
 */

function stepOf(pipeline: Pipeline, workflowId: string, stepId: string) {
  const step = pipeline.simulator.getStep(workflowId, stepId);
  if (!step) throw new Error(`no step ${stepId} in workflow execution ${workflowId}`);
  return step;
}

const runsFor = (pipeline: Pipeline, workflowId: string, taskId: string) => pipeline.simulator.runsFor(workflowId, taskId);

/** Runs per task that has any, as `workflowId/taskId` → count. */
function runsPerTask(pipeline: Pipeline): Map<string, number> {
  const perTask = new Map<string, number>();
  for (const { workflowContext } of pipeline.simulator.listAutomationRuns()) {
    const workflowId = workflowContext?.workflow_exec_id ?? '';
    const taskId = workflowContext?.workflow_exec_task_id ?? '';
    perTask.set(`${workflowId}/${taskId}`, runsFor(pipeline, workflowId, taskId).length);
  }
  return perTask;
}

const DEMO_EXPECTED: Array<[workflowId: string, taskId: string, stepStatus: string]> = [
  ['wf-solar-mueller', 'mueller-offer', 'COMPLETED'],
  ['wf-wallbox-schmidt', 'schmidt-credit', 'FAILED'],
  ['wf-heatpump-becker', 'becker-order', 'FAILED'],
  ['wf-grid-wagner', 'wagner-request', 'SKIPPED'],
  ['wf-battery-fischer', 'fischer-upsell', 'SKIPPED'],
  ['wf-maintenance-hoffmann', 'hoffmann-erp', 'FAILED'],
  ['wf-solar-schulz', 'schulz-documents', 'COMPLETED'],
  ['wf-wallbox-richter', 'richter-book', 'COMPLETED'],
];

describe('single task executions against a faulty epilot', () => {
  let pipeline: Pipeline;
  const run = (workflowExecutionId: string, taskId: string, attempt = 1): Promise<TaskExecutionReport> =>
    pipeline.runner.runTask({ workflowExecutionId, taskId, trigger: 'manual', attempt }, `${workflowExecutionId}-${taskId}-${attempt}`);

  beforeAll(async () => {
    pipeline = await startPipeline({
      seed: {
        ...DEMO_SEED,
        workflowExecutions: [
          ...DEMO_SEED.workflowExecutions,
          singleTaskWorkflow('wf-lost-start', 'lost-start-task'),
          singleTaskWorkflow('wf-lost-start-502', 'lost-start-502-task'),
          singleTaskWorkflow('wf-start-400', 'start-400-task'),
          singleTaskWorkflow('wf-status-401', 'status-401-task'),
          singleTaskWorkflow('wf-concurrent', 'concurrent-task'),
          singleTaskWorkflow('wf-crash', 'crash-task'),
        ],
        automationRuns: [
          {
            id: 'run-from-crashed-execution',
            flowId: 'flow-send-offer',
            entityId: DEMO_ENTITY,
            workflowContext: { workflow_exec_id: 'wf-crash', workflow_exec_task_id: 'crash-task', workflow_role: 'run_task_automation' },
            startedAgoMs: 0,
          },
        ],
      },
    });
  });
  afterEach(() => {
    pipeline.simulator.clearScriptedFaults();
    pipeline.simulator.setFaults({});
  });
  afterAll(() => pipeline.stop());

  it('adopts the run of a start whose response was lost instead of starting a second one', async () => {
    pipeline.simulator.scriptFault({ operation: 'automation.startExecution', times: 1, fault: 'lostResponse' });
    const before = pipeline.simulator.callCounts();
    const report = await run('wf-lost-start', 'lost-start-task');
    const summary = summarizeTask(report);
    const runs = runsFor(pipeline, 'wf-lost-start', 'lost-start-task');
    expect(runs).toHaveLength(1);
    expect(summary).toMatchObject({ outcome: 'patched', stepStatus: 'COMPLETED', automationExecutionId: runs[0]!.id });
    expect(report.output?.run?.adopted).toBe(true);
    // The lost start, then a look for the run it created; no second start.
    expect((pipeline.simulator.callCounts()['automation.startExecution'] ?? 0) - (before['automation.startExecution'] ?? 0)).toBe(1);
    expect((pipeline.simulator.callCounts()['automation.getExecutions'] ?? 0) - (before['automation.getExecutions'] ?? 0)).toBe(1);
    expect(pipeline.simulator.stepPatchCount('wf-lost-start', 'lost-start-task')).toBe(1);
    expect(stepOf(pipeline, 'wf-lost-start', 'lost-start-task')).toMatchObject({
      status: 'COMPLETED',
      automationConfig: { executionId: runs[0]!.id, executionStatus: 'success' },
    });
  });

  it('adopts the run when the created run’s response arrives as a 502 instead of the 201', async () => {
    pipeline.simulator.setFaults({ lostResponseAs: 'badGateway' });
    pipeline.simulator.scriptFault({ operation: 'automation.startExecution', times: 1, fault: 'lostResponse' });
    const before = pipeline.simulator.callCounts();
    const summary = summarizeTask(await run('wf-lost-start-502', 'lost-start-502-task'));
    const runs = runsFor(pipeline, 'wf-lost-start-502', 'lost-start-502-task');
    expect(runs).toHaveLength(1);
    expect(summary).toMatchObject({ outcome: 'patched', stepStatus: 'COMPLETED', automationExecutionId: runs[0]!.id });
    expect((pipeline.simulator.callCounts()['automation.startExecution'] ?? 0) - (before['automation.startExecution'] ?? 0)).toBe(1);
    expect(pipeline.simulator.stepPatchCount('wf-lost-start-502', 'lost-start-502-task')).toBe(1);
  });

  it('a start epilot refuses (400) fails the step with a reason naming the call, and starts nothing', async () => {
    pipeline.simulator.scriptFault({ operation: 'automation.startExecution', times: 1, fault: { status: 400 } });
    const before = pipeline.simulator.callCounts();
    const summary = summarizeTask(await run('wf-start-400', 'start-400-task'));
    expect(summary).toMatchObject({ outcome: 'patched', stepStatus: 'FAILED' });
    expect(summary.reason).toMatch(/EpilotPermanentError: startExecution \(POST \/v1\/automation\/executions\) answered 400/);
    expect((pipeline.simulator.callCounts()['automation.startExecution'] ?? 0) - (before['automation.startExecution'] ?? 0)).toBe(1);
    expect(runsFor(pipeline, 'wf-start-400', 'start-400-task')).toHaveLength(0);
    expect(pipeline.simulator.stepPatchCount('wf-start-400', 'start-400-task')).toBe(1);
    expect(stepOf(pipeline, 'wf-start-400', 'start-400-task').status).toBe('FAILED');
    expect(await pipeline.runner.records.get({ workflowExecutionId: 'wf-start-400', taskId: 'start-400-task' })).toMatchObject({
      status: 'DONE',
      stepStatus: 'FAILED',
    });
  });

  // Changed with issue 10: a 401 says nothing about the run (a token being rotated), so it is retried with backoff
  // instead of cancelling the run and patching FAILED as before.
  it('a 401 on the status call is retried: the run is not cancelled and the step gets the run’s own result', async () => {
    pipeline.simulator.scriptFault({ operation: 'automation.getExecution', times: 1, fault: { status: 401 } });
    const before = pipeline.simulator.callCounts();
    const report = await run('wf-status-401', 'status-401-task');
    const summary = summarizeTask(report);
    expect(summary).toMatchObject({ outcome: 'patched', stepStatus: 'COMPLETED' });
    expect((pipeline.simulator.callCounts()['automation.getExecution'] ?? 0) - (before['automation.getExecution'] ?? 0)).toBeGreaterThan(1);
    expect(runsFor(pipeline, 'wf-status-401', 'status-401-task')).toHaveLength(1);
    expect(runsFor(pipeline, 'wf-status-401', 'status-401-task')[0]?.status).toBe('success');
    expect(pipeline.simulator.stepPatchCount('wf-status-401', 'status-401-task')).toBe(1);
    expect(stepOf(pipeline, 'wf-status-401', 'status-401-task').status).toBe('COMPLETED');
  });

  it('20 concurrent executions of one task start one run and patch the step once', async () => {
    const reports = await Promise.all(Array.from({ length: 20 }, (_unused, i) => run('wf-concurrent', 'concurrent-task', i + 1)));
    const summaries = reports.map(summarizeTask);
    expect(runsFor(pipeline, 'wf-concurrent', 'concurrent-task')).toHaveLength(1);
    expect(pipeline.simulator.stepPatchCount('wf-concurrent', 'concurrent-task')).toBe(1);
    expect(stepOf(pipeline, 'wf-concurrent', 'concurrent-task').status).toBe('COMPLETED');
    expect(reports.map((report) => report.status)).toEqual(reports.map(() => 'SUCCEEDED'));
    expect(summaries.filter((summary) => summary.outcome === 'patched')).toHaveLength(1);
    const others = summaries.filter((summary) => summary.outcome !== 'patched');
    expect(others).toHaveLength(19);
    for (const other of others) {
      expect(['skipped', 'handed-over']).toContain(other.outcome);
      if (other.outcome === 'skipped') expect(other.reason).toMatch(/busy|already done|step already final/);
    }
  });

  it('after a crash between start and record, the next execution adopts the run instead of starting one', async () => {
    const task = { workflowExecutionId: 'wf-crash', taskId: 'crash-task' };
    const now = pipeline.simulator.now();
    // The crashed execution noted its attempt just before epilot created the run (the seed's run, at load time).
    const runCreatedAt = runsFor(pipeline, 'wf-crash', 'crash-task')[0]?.createdAt ?? now;
    await pipeline.runner.records.replace(undefined, {
      ...task,
      status: 'CLAIMED',
      owner: 'arn:aws:states:eu-central-1:000000000000:execution:LocalStateMachine:wf-crash-crash-task-1',
      leaseUntil: now - 1000,
      attempt: 1,
      round: 1,
      flowId: 'flow-send-offer',
      entityId: DEMO_ENTITY,
      startAttemptedAt: runCreatedAt - 1000,
      createdAt: runCreatedAt - 2000,
      updatedAt: now - 2000,
    });
    const before = pipeline.simulator.callCounts();
    const report = await run('wf-crash', 'crash-task', 2);
    expect(summarizeTask(report)).toMatchObject({
      outcome: 'patched',
      stepStatus: 'COMPLETED',
      automationExecutionId: 'run-from-crashed-execution',
    });
    expect(pipeline.simulator.callCounts()['automation.startExecution'] ?? 0).toBe(before['automation.startExecution'] ?? 0);
    expect(runsFor(pipeline, 'wf-crash', 'crash-task')).toHaveLength(1);
    expect(pipeline.simulator.stepPatchCount('wf-crash', 'crash-task')).toBe(1);
    expect(stepOf(pipeline, 'wf-crash', 'crash-task').automationConfig).toMatchObject({ executionId: 'run-from-crashed-execution' });
    expect(await pipeline.runner.records.get(task)).toMatchObject({
      status: 'DONE',
      automationExecutionId: 'run-from-crashed-execution',
      owner: expect.stringMatching(/:wf-crash-crash-task-2$/),
    });
  });
});

describe('a sweep through transient faults (5xx, 429 with Retry-After, resets; seeded)', () => {
  let pipeline: Pipeline;
  let report: SweepReport;
  beforeAll(async () => {
    pipeline = await startPipeline({
      faults: { serverErrorRate: 0.1, tooManyRequestsRate: 0.05, retryAfterSeconds: 1, resetRate: 0.02 },
      random: seededRandom(20240611),
    });
    report = await pipeline.runner.sweep();
  });
  afterAll(() => pipeline.stop());

  it('the faults did happen', () => {
    const faulted = pipeline.simulator.traffic.filter((exchange) => exchange.fault?.startsWith('random:'));
    expect(faulted.length).toBeGreaterThan(0);
  });

  it('completes the sweep and patches every automation task with the right status', () => {
    expect(report.sweepStatus).toBe('SUCCEEDED');
    expect(report.tasks.map((task) => task.status)).toEqual(report.tasks.map(() => 'SUCCEEDED'));
    for (const [workflowId, taskId, stepStatus] of DEMO_EXPECTED) {
      const task = report.tasks.find((candidate) => candidate.input.taskId === taskId);
      expect(task && summarizeTask(task)).toMatchObject({ outcome: 'patched', stepStatus });
      expect(stepOf(pipeline, workflowId, taskId).status).toBe(stepStatus);
      expect(pipeline.simulator.stepPatchCount(workflowId, taskId)).toBe(1);
    }
  });

  it('starts one run per task', () => {
    const perTask = runsPerTask(pipeline);
    expect([...perTask.values()].every((count) => count === 1)).toBe(true);
    expect(perTask.size).toBe(DEMO_EXPECTED.length);
  });
});

describe('bad epilot data (wrong types from the workflow execution call)', () => {
  let pipeline: Pipeline;
  let report: SweepReport;
  beforeAll(async () => {
    pipeline = await startPipeline();
    pipeline.simulator.scriptFault({ operation: 'workflow.getExecution', times: 5, fault: { status: 200, body: { id: 123 } } });
    report = await pipeline.runner.sweep();
  });
  afterAll(() => pipeline.stop());

  it('fails the affected executions with InvalidEpilotDataError, starting and patching nothing for them', () => {
    expect(report.sweepStatus).toBe('SUCCEEDED');
    const failed = report.tasks.filter((task) => task.status === 'FAILED');
    expect(failed).toHaveLength(5);
    for (const task of failed) {
      expect(task.error).toBe('InvalidEpilotDataError');
      expect(task.cause).toMatch(/getExecution/);
      expect(runsFor(pipeline, task.input.workflowExecutionId, task.input.taskId)).toHaveLength(0);
      expect(pipeline.simulator.stepPatchCount(task.input.workflowExecutionId, task.input.taskId)).toBe(0);
    }
  });

  it('goes on with the other tasks: each patched once, one run each', () => {
    const others = report.tasks.filter((task) => task.status !== 'FAILED');
    expect(others).toHaveLength(DEMO_EXPECTED.length - 5);
    for (const task of others) {
      const expected = DEMO_EXPECTED.find(([, taskId]) => taskId === task.input.taskId);
      expect(summarizeTask(task)).toMatchObject({ outcome: 'patched', stepStatus: expected?.[2] });
      expect(runsFor(pipeline, task.input.workflowExecutionId, task.input.taskId)).toHaveLength(1);
      expect(pipeline.simulator.stepPatchCount(task.input.workflowExecutionId, task.input.taskId)).toBe(1);
    }
    expect(pipeline.simulator.listAutomationRuns()).toHaveLength(DEMO_EXPECTED.length - 5);
  });
});

describe('an epilot outage that fails executions before they claim their task (regression: such tasks were lost)', () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    pipeline = await startPipeline();
  });
  afterAll(() => pipeline.stop());

  it('a later sweep runs the tasks again, each once, instead of finding the failed first execution’s name taken', async () => {
    // Every workflow read fails, for longer than Fetch execution's HTTP and Step Functions retries together.
    pipeline.simulator.scriptFault({ operation: 'workflow.getExecution', times: 1000, fault: 'serverError' });
    const outage = await pipeline.runner.sweep();
    expect(outage.tasks.map((task) => task.error)).toEqual(DEMO_EXPECTED.map(() => 'EpilotTransientError'));
    for (const [workflowExecutionId, taskId] of DEMO_EXPECTED) {
      expect(await pipeline.runner.records.get({ workflowExecutionId, taskId })).toBeUndefined();
    }
    pipeline.simulator.clearScriptedFaults();

    const after = await pipeline.runner.sweep();
    expect(after.sweep).toMatchObject({ started: DEMO_EXPECTED.length, alreadyRunning: 0 });
    for (const [workflowId, taskId, stepStatus] of DEMO_EXPECTED) {
      expect(stepOf(pipeline, workflowId, taskId).status).toBe(stepStatus);
      expect(pipeline.simulator.stepPatchCount(workflowId, taskId)).toBe(1);
    }
    expect([...runsPerTask(pipeline).values()].every((count) => count === 1)).toBe(true);

    // The next sweep leaves the finished tasks alone; only the workflow that moved on to its next automation runs.
    const again = await pipeline.runner.sweep();
    expect(again.tasks.map((task) => task.input.taskId)).toEqual(['richter-notify']);
  });
});
