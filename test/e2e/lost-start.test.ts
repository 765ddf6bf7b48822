import { summarizeTask } from '../../local/cli/report';
import type { TaskExecutionReport } from '../../local/runner/local-runner';
import { DEMO_SEED, type Pipeline, singleTaskWorkflow, startPipeline } from '../support/local-pipeline';

/**
 * Starts whose answer never arrives, or arrives unusable, against an epilot that creates the run late or lists it
 * late: the runner must find and adopt the one run, never start a second one, and patch the step once at the end.
 * Times: the simulator's delays are real ms; settings and the run list's lag are simulated ms (10× faster).
 */

describe('a start without a definite answer', () => {
  let pipeline: Pipeline;
  const run = (workflowExecutionId: string, taskId: string): Promise<TaskExecutionReport> =>
    pipeline.runner.runTask({ workflowExecutionId, taskId, trigger: 'manual', attempt: 1 }, `${workflowExecutionId}-${taskId}-1`);
  const calls = (operation: 'automation.startExecution' | 'automation.getExecutions') => pipeline.simulator.callCounts()[operation] ?? 0;

  beforeAll(async () => {
    pipeline = await startPipeline({
      seed: {
        ...DEMO_SEED,
        workflowExecutions: [
          ...DEMO_SEED.workflowExecutions,
          singleTaskWorkflow('wf-late-run', 'late-run-task'),
          singleTaskWorkflow('wf-empty-201', 'empty-201-task'),
          singleTaskWorkflow('wf-lagging-list', 'lagging-list-task'),
        ],
      },
      // The client gives up after 1 s (real); a start may still create its run for 8 s (real) after the attempt.
      settings: { httpTimeoutMs: 1000, startSettleMs: 80_000 },
    });
  });
  afterEach(() => {
    pipeline.simulator.clearScriptedFaults();
    pipeline.simulator.setFaults({});
  });
  afterAll(() => pipeline.stop());

  it('whose request outlives the client timeout and whose run appears later yields exactly one run, adopted, and one final patch', async () => {
    // epilot holds the start 3 s (real), long after the client gave up at 1 s, then creates the run.
    pipeline.simulator.scriptFault({ operation: 'automation.startExecution', fault: { delayMs: 3000 } });
    pipeline.simulator.setFaults({ flowRunsNeedIncludeFlows: true });
    const startsBefore = calls('automation.startExecution');

    const report = await run('wf-late-run', 'late-run-task');

    const runs = pipeline.simulator.runsFor('wf-late-run', 'late-run-task');
    expect(runs).toHaveLength(1);
    expect(calls('automation.startExecution') - startsBefore).toBe(1);
    expect(summarizeTask(report)).toMatchObject({ outcome: 'patched', stepStatus: 'COMPLETED', automationExecutionId: runs[0]?.id });
    expect(report.output?.run?.adopted).toBe(true);
    expect(pipeline.simulator.stepPatchCount('wf-late-run', 'late-run-task')).toBe(1);
  });

  it('answered 201 with an empty body yields one run, adopted from the run list, and the step COMPLETED', async () => {
    pipeline.simulator.scriptFault({ operation: 'automation.startExecution', fault: 'processedEmptyBody' });
    const startsBefore = calls('automation.startExecution');

    const report = await run('wf-empty-201', 'empty-201-task');

    const runs = pipeline.simulator.runsFor('wf-empty-201', 'empty-201-task');
    expect(runs).toHaveLength(1);
    expect(calls('automation.startExecution') - startsBefore).toBe(1);
    expect(report.output?.run).toMatchObject({ executionId: runs[0]?.id, adopted: true });
    expect(summarizeTask(report)).toMatchObject({ outcome: 'patched', stepStatus: 'COMPLETED' });
    expect(pipeline.simulator.stepPatchCount('wf-empty-201', 'empty-201-task')).toBe(1);
  });

  it('whose run the run list shows only late (with a malformed unrelated run in it) is looked for again, not started again', async () => {
    // The run exists at once, but the list hides it for 2 s (real); flow runs only with include_flows=true.
    pipeline.simulator.setFaults({ runListLagMs: 20_000, flowRunsNeedIncludeFlows: true, malformedRunInList: true });
    pipeline.simulator.scriptFault({ operation: 'automation.startExecution', fault: 'lostResponse' });
    const startsBefore = calls('automation.startExecution');
    const listsBefore = calls('automation.getExecutions');

    const report = await run('wf-lagging-list', 'lagging-list-task');

    const runs = pipeline.simulator.runsFor('wf-lagging-list', 'lagging-list-task');
    expect(runs).toHaveLength(1);
    expect(calls('automation.startExecution') - startsBefore).toBe(1);
    // At least one look found nothing (the lag) before the run was adopted.
    expect(calls('automation.getExecutions') - listsBefore).toBeGreaterThan(1);
    expect(report.output?.run).toMatchObject({ executionId: runs[0]?.id, adopted: true });
    expect(summarizeTask(report)).toMatchObject({ outcome: 'patched', stepStatus: 'COMPLETED' });
    expect(pipeline.simulator.stepPatchCount('wf-lagging-list', 'lagging-list-task')).toBe(1);
    // The step remembered its run before the end: an IN_PROGRESS patch naming it came first.
    expect(pipeline.simulator.getStepPatches('wf-lagging-list', 'lagging-list-task')[0]?.body).toMatchObject({
      status: 'IN_PROGRESS',
      automationConfig: { flowId: 'flow-send-offer', executionId: runs[0]?.id },
    });
  });
});
