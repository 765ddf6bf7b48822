import { setTimeout as sleep } from 'node:timers/promises';
import type { TaskExecutionReport } from '../../local/runner/local-runner';
import { DEMO_ENTITY, DEMO_SEED, type Pipeline, singleTaskWorkflow, startPipeline } from '../support/local-pipeline';

/**
 * Rounds of a task told apart by the step's status change, and decisions made on the step by others, against an
 * epilot where people act on steps, loops reopen them, patches get lost and reads lag. Times: settings and fault
 * delays are simulated ms (10× faster than the real ms of `sleep`).
 */

const WORKFLOWS = {
  reopened: 'wf-reopened',
  fastLoop: 'wf-fast-loop',
  foreignRun: 'wf-foreign-run',
  droppedPatch: 'wf-dropped-patch',
  staleRead: 'wf-stale-read',
  skippedWhileRunning: 'wf-skipped-while-running',
  failedBeforeEnd: 'wf-failed-before-end',
} as const;

describe('rounds and decisions made on the step by others', () => {
  let pipeline: Pipeline;
  const run = (workflowExecutionId: string, attempt: number): Promise<TaskExecutionReport> =>
    pipeline.runner.runTask({ workflowExecutionId, taskId: 'task', trigger: 'manual', attempt }, `${workflowExecutionId}-task-${attempt}`);
  const runsOf = (workflowExecutionId: string) => pipeline.simulator.runsFor(workflowExecutionId, 'task');
  const stepOf = (workflowExecutionId: string) => pipeline.simulator.getStep(workflowExecutionId, 'task');
  const recordOf = (workflowExecutionId: string) => pipeline.runner.records.get({ workflowExecutionId, taskId: 'task' });

  /** Until epilot has reopened the step (the reopen is applied on the simulator's clock). */
  async function untilReopened(workflowExecutionId: string): Promise<void> {
    for (let tries = 0; tries < 50 && stepOf(workflowExecutionId)?.status !== 'PENDING'; tries++) await sleep(50);
    expect(stepOf(workflowExecutionId)?.status).toBe('PENDING');
  }

  beforeAll(async () => {
    pipeline = await startPipeline({
      seed: {
        ...DEMO_SEED,
        workflowExecutions: [
          ...DEMO_SEED.workflowExecutions,
          singleTaskWorkflow(WORKFLOWS.reopened, 'task'),
          singleTaskWorkflow(WORKFLOWS.fastLoop, 'task'),
          singleTaskWorkflow(WORKFLOWS.foreignRun, 'task'),
          singleTaskWorkflow(WORKFLOWS.droppedPatch, 'task'),
          singleTaskWorkflow(WORKFLOWS.staleRead, 'task'),
          singleTaskWorkflow(WORKFLOWS.skippedWhileRunning, 'task', 'flow-erp-sync'),
          singleTaskWorkflow(WORKFLOWS.failedBeforeEnd, 'task', 'flow-create-documents'),
        ],
      },
      // A 3 s run fits in one poll window; a run that never ends is watched at the end of the first (5 s).
      settings: { httpTimeoutMs: 1000, startSettleMs: 20_000, pollWindowMs: 5000 },
    });
  });
  afterEach(() => {
    pipeline.simulator.clearScriptedFaults();
    pipeline.simulator.setFaults({});
  });
  afterAll(() => pipeline.stop());

  describe('a reopened task', () => {
    it('whose step went back to PENDING keeping the old executionId gets a second round with a new run, patched with that run', async () => {
      pipeline.simulator.setFaults({ reopenStepAfterFinalPatch: { afterMs: 5000 } });
      await run(WORKFLOWS.reopened, 1);
      const [first] = runsOf(WORKFLOWS.reopened);
      await untilReopened(WORKFLOWS.reopened);
      expect(stepOf(WORKFLOWS.reopened)?.automationConfig).toMatchObject({ executionId: first?.id });

      const report = await run(WORKFLOWS.reopened, 2);

      const runs = runsOf(WORKFLOWS.reopened);
      expect(runs).toHaveLength(2);
      const second = runs[1];
      expect(second?.id).not.toBe(first?.id);
      expect(report.output?.run).toMatchObject({ executionId: second?.id, adopted: false });
      expect(stepOf(WORKFLOWS.reopened)).toMatchObject({ status: 'COMPLETED', automationConfig: { executionId: second?.id } });
      expect(pipeline.simulator.stepPatchCount(WORKFLOWS.reopened, 'task')).toBe(2);
      expect(await recordOf(WORKFLOWS.reopened)).toMatchObject({ status: 'DONE', round: 2, earlierRunIds: [first?.id] });
    });

    it('whose new round’s first start never reached epilot does not adopt the earlier round’s run from the run list', async () => {
      pipeline.simulator.setFaults({ reopenStepAfterFinalPatch: { afterMs: 3000 } });
      await run(WORKFLOWS.fastLoop, 1);
      const [first] = runsOf(WORKFLOWS.fastLoop);
      await untilReopened(WORKFLOWS.fastLoop);
      // Round 2's POST is dropped before epilot processes it: the run list then shows only round 1's run.
      pipeline.simulator.scriptFault({ operation: 'automation.startExecution', fault: 'reset' });

      const report = await run(WORKFLOWS.fastLoop, 2);

      const runs = runsOf(WORKFLOWS.fastLoop);
      expect(runs).toHaveLength(2);
      expect(report.output?.run?.executionId).toBe(runs[1]?.id);
      expect(report.output?.run?.executionId).not.toBe(first?.id);
      expect(stepOf(WORKFLOWS.fastLoop)).toMatchObject({ status: 'COMPLETED', automationConfig: { executionId: runs[1]?.id } });
    });
  });

  it('reopened with the run id of a round no record of this runner knows (another runner’s, a new table) starts its own run', async () => {
    // Round 1 was run and patched by someone else: its run ended, then the step was finalized and later reopened.
    const started = await fetch(`${pipeline.simulator.url}/v1/automation/executions`, {
      method: 'POST',
      headers: { Authorization: 'Bearer e2e-secret-token', 'Content-Type': 'application/json' },
      body: JSON.stringify({
        entity_id: DEMO_ENTITY,
        flow_id: 'flow-send-offer',
        workflow_context: { workflow_exec_id: WORKFLOWS.foreignRun, workflow_exec_task_id: 'task', workflow_role: 'run_task_automation' },
      }),
    });
    const earlier = ((await started.json()) as { id: string }).id;
    for (let tries = 0; tries < 50 && runsOf(WORKFLOWS.foreignRun)[0]?.status !== 'success'; tries++) await sleep(50);
    pipeline.simulator.editStep(WORKFLOWS.foreignRun, 'task', {
      status: 'COMPLETED',
      automationConfig: { flowId: 'flow-send-offer', executionId: earlier, executionStatus: 'success' },
    });
    await sleep(500);
    pipeline.simulator.editStep(WORKFLOWS.foreignRun, 'task', { status: 'PENDING' });

    const report = await run(WORKFLOWS.foreignRun, 1);

    const runs = runsOf(WORKFLOWS.foreignRun);
    expect(runs).toHaveLength(2);
    expect(report.output?.run?.executionId).toBe(runs[1]?.id);
    expect(stepOf(WORKFLOWS.foreignRun)).toMatchObject({ status: 'COMPLETED', automationConfig: { executionId: runs[1]?.id } });
    expect(await recordOf(WORKFLOWS.foreignRun)).toMatchObject({ status: 'DONE', earlierRunIds: [earlier] });
  });

  describe('a patch that did not stick', () => {
    it('answered 200 and dropped is patched again by the next execution, with the recorded result, and never run again', async () => {
      pipeline.simulator.scriptFault({ operation: 'workflow.updateStep', onlyFinalStepStatus: true, fault: 'droppedWrite' });
      await run(WORKFLOWS.droppedPatch, 1);
      expect(stepOf(WORKFLOWS.droppedPatch)?.status).toBe('IN_PROGRESS');

      const report = await run(WORKFLOWS.droppedPatch, 2);

      expect(runsOf(WORKFLOWS.droppedPatch)).toHaveLength(1);
      expect(report.output?.decision?.action).toBe('patch');
      expect(stepOf(WORKFLOWS.droppedPatch)).toMatchObject({
        status: 'COMPLETED',
        automationConfig: { executionId: runsOf(WORKFLOWS.droppedPatch)[0]?.id },
      });
      expect(pipeline.simulator.stepPatchCount(WORKFLOWS.droppedPatch, 'task')).toBe(1);
    });

    it('read stale (the step as before the runner’s patch, without its run) starts no new round and no second run', async () => {
      // The IN_PROGRESS note of the run is lost, so the stale read shows neither the result nor the run.
      pipeline.simulator.scriptFault({ operation: 'workflow.updateStep', fault: 'droppedWrite' });
      pipeline.simulator.setFaults({ staleStepReadMs: 30_000 });
      await run(WORKFLOWS.staleRead, 1);
      expect(pipeline.simulator.stepPatchCount(WORKFLOWS.staleRead, 'task')).toBe(1);

      const report = await run(WORKFLOWS.staleRead, 2);

      expect(runsOf(WORKFLOWS.staleRead)).toHaveLength(1);
      expect(report.output?.decision?.action).toBe('patch');
      expect(await recordOf(WORKFLOWS.staleRead)).toMatchObject({ status: 'DONE', round: 1, stepStatus: 'COMPLETED' });
      expect(stepOf(WORKFLOWS.staleRead)?.status).toBe('COMPLETED');
    });
  });

  describe('a step someone else finalized while its run goes on', () => {
    it('set SKIPPED by a person stays SKIPPED: the run is cancelled, the step not patched, the record closed naming SKIPPED', async () => {
      // Well after the runner's IN_PROGRESS note of the run, which a busy machine may delay.
      pipeline.simulator.setFaults({ personFinalizesStep: { status: 'SKIPPED', afterMs: 1500 } });

      const report = await run(WORKFLOWS.skippedWhileRunning, 1);

      const [only] = runsOf(WORKFLOWS.skippedWhileRunning);
      expect(only?.status).toBe('cancelled');
      expect(stepOf(WORKFLOWS.skippedWhileRunning)?.status).toBe('SKIPPED');
      expect(pipeline.simulator.stepPatchCount(WORKFLOWS.skippedWhileRunning, 'task')).toBe(0);
      expect(report.output?.result).toMatchObject({ stepStatus: 'SKIPPED', elsewhere: true });
      // Watched at the end of the first poll window, long before the run's deadline (8 s).
      expect(report.output?.run?.timedOut).toBe(false);
      const record = await recordOf(WORKFLOWS.skippedWhileRunning);
      expect(record).toMatchObject({ status: 'DONE', stepStatus: 'SKIPPED' });
      expect(record?.reason).toMatch(/^closed without a patch: the step was set SKIPPED by someone else at \S+; the run was cancelled$/);
    });

    it('set FAILED by a person before the run succeeded stays FAILED: Patch step reads the step and does not patch it', async () => {
      pipeline.simulator.setFaults({ personFinalizesStep: { status: 'FAILED', afterMs: 1500 } });

      const report = await run(WORKFLOWS.failedBeforeEnd, 1);

      expect(runsOf(WORKFLOWS.failedBeforeEnd)[0]?.status).toBe('success');
      expect(report.output?.run?.finished).toBe(true);
      expect(stepOf(WORKFLOWS.failedBeforeEnd)?.status).toBe('FAILED');
      expect(pipeline.simulator.stepPatchCount(WORKFLOWS.failedBeforeEnd, 'task')).toBe(0);
      expect(await recordOf(WORKFLOWS.failedBeforeEnd)).toMatchObject({ status: 'DONE', stepStatus: 'FAILED' });
    });
  });
});
