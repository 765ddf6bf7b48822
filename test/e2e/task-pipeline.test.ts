import { validateExchange } from '../contract/openapi';
import type { SweepReport } from '../../local/runner/local-runner';
import { summarizeTask } from '../../local/cli/report';
import { DEMO_SEED, type Pipeline, startPipeline } from '../support/local-pipeline';

describe('a sweep over the demo organisation, on the synthesized state machines', () => {
  let pipeline: Pipeline;
  let report: SweepReport;
  const outcome = (taskId: string) => {
    const task = report.tasks.find((candidate) => candidate.input.taskId === taskId);
    if (!task) throw new Error(`no execution for ${taskId}`);
    return summarizeTask(task);
  };
  const step = (workflowId: string, stepId: string) => {
    const found = pipeline.simulator.getStep(workflowId, stepId);
    if (!found) throw new Error(`no step ${stepId} in workflow execution ${workflowId}`);
    return found;
  };

  beforeAll(async () => {
    pipeline = await startPipeline();
    report = await pipeline.runner.sweep();
  });
  afterAll(() => pipeline.stop());

  it('completes the sweep and one execution per automation task', () => {
    expect(report.sweepStatus).toBe('SUCCEEDED');
    expect(report.tasks.map((task) => task.status)).toEqual(report.tasks.map(() => 'SUCCEEDED'));
    expect(report.tasks.map((task) => task.input.taskId).sort()).toEqual(
      [
        'becker-order',
        'fischer-upsell',
        'hoffmann-erp',
        'mueller-offer',
        'richter-book',
        'schmidt-credit',
        'schulz-documents',
        'wagner-request',
      ].sort(),
    );
  });

  it.each([
    ['success', 'wf-solar-mueller', 'mueller-offer', 'COMPLETED'],
    ['failed', 'wf-wallbox-schmidt', 'schmidt-credit', 'FAILED'],
    ['hot', 'wf-heatpump-becker', 'becker-order', 'FAILED'],
    ['cancelled', 'wf-grid-wagner', 'wagner-request', 'SKIPPED'],
    ['skipped', 'wf-battery-fischer', 'fischer-upsell', 'SKIPPED'],
  ])('an automation that ends %s patches the step %s', (automationStatus, workflowId, taskId, stepStatus) => {
    const summary = outcome(taskId);
    expect(summary).toMatchObject({ outcome: 'patched', stepStatus, automationStatus });
    const patched = step(workflowId, taskId);
    expect(patched.status).toBe(stepStatus);
    expect(patched.automationConfig).toMatchObject({ executionId: summary.automationExecutionId, executionStatus: automationStatus });
    expect(pipeline.simulator.stepPatchCount(workflowId, taskId)).toBe(1);
  });

  it('cancels a run that outlives the timeout and fails its step with the reason', () => {
    const summary = outcome('hoffmann-erp');
    expect(summary).toMatchObject({ outcome: 'patched', stepStatus: 'FAILED', timedOut: true });
    expect(summary.reason).toMatch(/did not finish within 8 s; the run was cancelled/);
    const run = pipeline.simulator.listAutomationRuns().find((candidate) => candidate.id === summary.automationExecutionId);
    expect(run?.status).toBe('cancelled');
    expect(step('wf-maintenance-hoffmann', 'hoffmann-erp').status).toBe('FAILED');
  });

  it('finds and patches a task inside a section', () => {
    expect(outcome('schulz-documents')).toMatchObject({ outcome: 'patched', stepStatus: 'COMPLETED' });
    expect(step('wf-solar-schulz', 'schulz-documents').status).toBe('COMPLETED');
  });

  it('leaves the manual task alone', () => {
    expect(report.tasks.some((task) => task.input.workflowExecutionId === 'wf-smartmeter-koch')).toBe(false);
    expect(pipeline.simulator.stepPatchCount('wf-smartmeter-koch', 'koch-check-address')).toBe(0);
  });

  it('starts exactly one automation run per task', () => {
    const perTask = report.tasks.map(({ input }) => [
      input.taskId,
      pipeline.simulator.runsFor(input.workflowExecutionId, input.taskId).length,
    ]);
    expect(perTask).toEqual(report.tasks.map(({ input }) => [input.taskId, 1]));
    expect(pipeline.simulator.listAutomationRuns()).toHaveLength(report.tasks.length);
  });

  it('polls each run at most once per simulated second (the default poll interval), except a timed-out run’s last poll at its deadline, by the simulator’s call record', () => {
    const POLL_INTERVAL_MS = 1000;
    const gaps: number[] = [];
    for (const task of report.tasks) {
      const { automationExecutionId: runId, timedOut } = summarizeTask(task);
      if (runId === undefined) continue;
      const polls = pipeline.simulator.traffic
        .filter((exchange) => exchange.operation === 'automation.getExecution' && exchange.path === `/v1/automation/executions/${runId}`)
        .map((exchange) => exchange.at);
      // Polling sleeps min(interval, time left), so the poll that finds the deadline passed may come early.
      if (timedOut) polls.pop();
      for (let i = 1; i < polls.length; i++) gaps.push((polls[i] ?? 0) - (polls[i - 1] ?? 0));
    }
    // Runs of the demo take several seconds, so there are gaps to check; an empty list would pass anything. How many
    // depends on the machine's pace (each poll's real overhead counts ten times in simulated time), so only a floor.
    expect(gaps.length).toBeGreaterThanOrEqual(5);
    // Arrival times carry real-time jitter (×10 in simulated ms): allow a tenth of the interval.
    expect(gaps.filter((gap) => gap < POLL_INTERVAL_MS * 0.9)).toEqual([]);
  });

  it('counts at least 8 state transitions and 6 Lambda invocations per task execution', () => {
    for (const task of report.tasks) {
      const summary = summarizeTask(task);
      expect(summary.stateTransitions).toBeGreaterThanOrEqual(8);
      expect(summary.lambdaInvocations).toBeGreaterThanOrEqual(6);
    }
  });

  it('sends only requests, and gets only responses, that epilot’s OpenAPI definitions allow', () => {
    expect(pipeline.simulator.traffic.length).toBeGreaterThan(20);
    const problems = pipeline.simulator.traffic.flatMap((exchange) =>
      validateExchange(exchange).map((problem) => `${exchange.method} ${exchange.path}: ${problem}`),
    );
    expect(problems).toEqual([]);
  });

  it('a second sweep starts the next automation task of a workflow that moved on, and nothing else', async () => {
    const before = pipeline.simulator.callCounts();
    const second = await pipeline.runner.sweep();
    expect(second.tasks.map((task) => task.input.taskId)).toEqual(['richter-notify']);
    expect(summarizeTask(second.tasks[0]!)).toMatchObject({ outcome: 'patched', stepStatus: 'COMPLETED' });
    expect(pipeline.simulator.callCounts()['automation.startExecution']).toBe((before['automation.startExecution'] ?? 0) + 1);
  });
});

describe('single task executions', () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    pipeline = await startPipeline({
      seed: {
        ...DEMO_SEED,
        workflowExecutions: [
          ...DEMO_SEED.workflowExecutions,
          {
            id: 'wf-closed',
            definitionId: 'solarWf',
            name: 'Closed workflow',
            status: 'CLOSED',
            entityIds: ['6f1a9a52-0b7e-4c1e-9d3a-1a0000000001'],
            flow: [{ id: 'closed-task', name: 'Send offer', executionType: 'AUTOMATION', automationConfig: { flowId: 'flow-send-offer' } }],
          },
          {
            id: 'wf-done-step',
            definitionId: 'solarWf',
            name: 'Already completed',
            entityIds: ['6f1a9a52-0b7e-4c1e-9d3a-1a0000000001'],
            flow: [
              {
                id: 'done-task',
                name: 'Send offer',
                status: 'COMPLETED',
                executionType: 'AUTOMATION',
                automationConfig: { flowId: 'flow-send-offer' },
              },
              { id: 'next-task', name: 'Call' },
            ],
          },
          {
            id: 'wf-adopt',
            definitionId: 'solarWf',
            name: 'Run started by epilot',
            entityIds: ['6f1a9a52-0b7e-4c1e-9d3a-1a0000000001'],
            flow: [
              {
                id: 'adopt-task',
                name: 'Send offer',
                executionType: 'AUTOMATION',
                automationConfig: { flowId: 'flow-send-offer', executionId: 'run-started-by-epilot' },
              },
            ],
          },
        ],
        automationRuns: [
          {
            id: 'run-started-by-epilot',
            flowId: 'flow-send-offer',
            entityId: '6f1a9a52-0b7e-4c1e-9d3a-1a0000000001',
            workflowContext: { workflow_exec_id: 'wf-adopt', workflow_exec_task_id: 'adopt-task', workflow_role: 'run_task_automation' },
            startedAgoMs: 500,
          },
        ],
      },
    });
  });
  afterAll(() => pipeline.stop());

  const run = (workflowExecutionId: string, taskId: string) =>
    pipeline.runner.runTask({ workflowExecutionId, taskId, trigger: 'manual' }, `${workflowExecutionId}-${taskId}-1`);

  it.each([
    ['a manual task', 'wf-smartmeter-koch', 'koch-check-address', /not an AUTOMATION task/],
    ['a workflow that is not STARTED', 'wf-closed', 'closed-task', /workflow not STARTED \(CLOSED\)/],
    ['a step that is already COMPLETED', 'wf-done-step', 'done-task', /step already final \(COMPLETED\)/],
    ['an unknown workflow execution', 'wf-does-not-exist', 'any-task', /execution not found/],
    ['an unknown task', 'wf-solar-mueller', 'no-such-task', /task not found/],
  ])('%s ends succeeded with a reason and no side effect', async (_case, workflowId, taskId, reason) => {
    const before = pipeline.simulator.callCounts();
    const report = await run(workflowId, taskId);
    expect(report.status).toBe('SUCCEEDED');
    expect(summarizeTask(report)).toMatchObject({ outcome: 'skipped' });
    expect(summarizeTask(report).reason).toMatch(reason);
    const after = pipeline.simulator.callCounts();
    expect(after['automation.startExecution'] ?? 0).toBe(before['automation.startExecution'] ?? 0);
    expect(after['workflow.updateStep'] ?? 0).toBe(before['workflow.updateStep'] ?? 0);
    expect(await pipeline.runner.records.get({ workflowExecutionId: workflowId, taskId })).toBeUndefined();
  });

  it('adopts a run the step already names instead of starting another', async () => {
    const before = pipeline.simulator.callCounts()['automation.startExecution'] ?? 0;
    const report = await run('wf-adopt', 'adopt-task');
    expect(summarizeTask(report)).toMatchObject({
      outcome: 'patched',
      stepStatus: 'COMPLETED',
      automationExecutionId: 'run-started-by-epilot',
    });
    expect(pipeline.simulator.callCounts()['automation.startExecution'] ?? 0).toBe(before);
    expect(await pipeline.runner.records.get({ workflowExecutionId: 'wf-adopt', taskId: 'adopt-task' })).toMatchObject({
      status: 'DONE',
      automationExecutionId: 'run-started-by-epilot',
      stepStatus: 'COMPLETED',
    });
  });

  it('a second execution for a finished task starts nothing', async () => {
    await run('wf-solar-mueller', 'mueller-offer');
    const before = pipeline.simulator.callCounts();
    const again = await pipeline.runner.runTask(
      { workflowExecutionId: 'wf-solar-mueller', taskId: 'mueller-offer', trigger: 'manual' },
      'wf-solar-mueller-mueller-offer-2',
    );
    expect(summarizeTask(again)).toMatchObject({ outcome: 'skipped' });
    expect(pipeline.simulator.callCounts()['automation.startExecution']).toBe(before['automation.startExecution']);
    expect(pipeline.simulator.callCounts()['workflow.updateStep']).toBe(before['workflow.updateStep']);
  });
});

describe('a sweep over more than one page of search results', () => {
  it('pages with search_after, one search call per page, and runs every task', async () => {
    const pipeline = await startPipeline({ settings: { searchPageSize: 3 } });
    try {
      const report = await pipeline.runner.sweep();
      expect(report.sweep).toMatchObject({ page: 4, seen: 10, done: true, started: 8 });
      expect(pipeline.simulator.callCounts()['entity.searchEntities']).toBe(4);
      const searches = pipeline.simulator.traffic.filter((exchange) => exchange.operation === 'entity.searchEntities');
      expect(searches[0]?.requestBody).not.toHaveProperty('search_after');
      expect(searches[1]?.requestBody).toHaveProperty('search_after');
      expect(report.tasks.filter((task) => summarizeTask(task).outcome === 'patched')).toHaveLength(8);
    } finally {
      await pipeline.stop();
    }
  });
});
