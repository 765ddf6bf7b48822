import { summarizeTask } from '../../local/cli/report';
import { type Pipeline, startPipeline } from '../support/local-pipeline';

describe('a sweep resumes what dead executions left behind', () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    pipeline = await startPipeline({ settings: { doneSettleMs: 0 } });
    await pipeline.runner.sweep();
  });
  afterAll(() => pipeline.stop());

  it('closes a record left PATCHING after its step was patched, starting and patching nothing', async () => {
    const key = { workflowExecutionId: 'wf-solar-mueller', taskId: 'mueller-offer' };
    const done = await pipeline.runner.records.get(key);
    expect(done?.status).toBe('DONE');
    // As if the execution died between the step patch and closing its record, and its lease ran out.
    await pipeline.runner.records.replace(done, { ...done!, status: 'PATCHING', leaseUntil: Date.now() - 1 });

    const report = await pipeline.runner.sweep();

    expect(report.sweep).toMatchObject({ resumed: 1 });
    const resumed = report.tasks.find((task) => task.input.taskId === 'mueller-offer');
    expect(summarizeTask(resumed!)).toMatchObject({ outcome: 'skipped', reason: 'step already final (COMPLETED)' });
    expect(await pipeline.runner.records.get(key)).toMatchObject({
      status: 'DONE',
      stepStatus: 'COMPLETED',
      reason: 'closed without a patch: step already final (COMPLETED)',
    });
    const runs = pipeline.simulator.listAutomationRuns().filter((run) => run.workflowContext?.workflow_exec_task_id === 'mueller-offer');
    expect(runs).toHaveLength(1);
    expect(pipeline.simulator.stepPatchCount('wf-solar-mueller', 'mueller-offer')).toBe(1);

    const again = await pipeline.runner.sweep();
    expect(again.sweep).toMatchObject({ resumed: 0 });
  });
});
