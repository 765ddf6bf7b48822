import { TaskStates } from '../../lambdas/state-names';
import { summarizeTask } from '../../local/cli/report';
import type { TaskExecutionReport } from '../../local/runner/local-runner';
import type { WorkflowExecutionSeedInput } from '../../simulator/seed';
import { DEMO_SEED, type Pipeline, startPipeline } from '../support/local-pipeline';

/**
 * Trouble that says nothing about the run (a refused token while it is rotated, the poller's Lambda throttled or
 * timing out, rate limits) never cancels it and never becomes a step result; every retry waits what epilot asked.
 */

const ENTITY = '6f1a9a52-0b7e-4c1e-9d3a-1a0000000001';
const TOKEN = 'polling-trouble-token';

const singleTaskWorkflow = (id: string, taskId: string): WorkflowExecutionSeedInput => ({
  id,
  definitionId: 'solarWf',
  name: `Polling trouble ${id}`,
  entityIds: [ENTITY],
  flow: [
    { id: taskId, name: 'Send offer', executionType: 'AUTOMATION', automationConfig: { flowId: 'flow-send-offer' } },
    { id: `${taskId}-next`, name: 'Follow-up call' },
  ],
});

/** The token as the Lambdas read it: cached until a 401/403 drops it; counts the reads that follow a drop. */
function rotatingToken() {
  let cached = false;
  const counts = { invalidations: 0, rereads: 0 };
  const provider = Object.assign(
    async () => {
      if (!cached && counts.invalidations > 0) counts.rereads += 1;
      cached = true;
      return TOKEN;
    },
    {
      invalidate: () => {
        cached = false;
        counts.invalidations += 1;
      },
    },
  );
  return { provider, counts };
}

describe('polling trouble never fails a healthy run', () => {
  let pipeline: Pipeline;
  const token = rotatingToken();
  const tasks = ['auth-burst', 'start-403', 'throttled', 'timed-out', 'start-429'];
  const run = (name: string): Promise<TaskExecutionReport> =>
    pipeline.runner.runTask({ workflowExecutionId: `wf-${name}`, taskId: `${name}-task`, trigger: 'manual', attempt: 1 }, `wf-${name}-1`);
  const runsOf = (name: string) => pipeline.simulator.runsFor(`wf-${name}`, `${name}-task`);
  const stepOf = (name: string) => pipeline.simulator.getStep(`wf-${name}`, `${name}-task`);
  const calls = (operation: string) => pipeline.simulator.callCounts()[operation] ?? 0;

  beforeAll(async () => {
    pipeline = await startPipeline({
      token: TOKEN,
      tokenProvider: token.provider,
      // Short HTTP timeout and poll window: the poller's Lambda timeout (pollCallSeconds) is 16 s, 1.6 s real.
      settings: { httpTimeoutMs: 1000, pollWindowMs: 2000, startSettleMs: 3000, automationTimeoutMs: 60_000 },
      seed: { ...DEMO_SEED, workflowExecutions: tasks.map((name) => singleTaskWorkflow(`wf-${name}`, `${name}-task`)) },
    });
  });
  afterEach(() => pipeline.simulator.clearScriptedFaults());
  afterAll(() => pipeline.stop());

  it('a run polled through a burst of 401s (more than the client tries) ends COMPLETED: the token is read again, no cancel, one patch', async () => {
    const before = { ...token.counts };
    // Five refusals: the client's three attempts fail (EpilotAuthError reaches Step Functions and is retried), then two more.
    pipeline.simulator.scriptFault({ operation: 'automation.getExecution', times: 5, fault: 'unauthorized' });

    const report = await run('auth-burst');

    expect(summarizeTask(report)).toMatchObject({ outcome: 'patched', stepStatus: 'COMPLETED' });
    expect(pipeline.simulator.traffic.filter((exchange) => exchange.fault === 'scripted:401')).toHaveLength(5);
    expect(token.counts.invalidations - before.invalidations).toBe(5);
    expect(token.counts.rereads - before.rereads).toBe(5);
    expect(runsOf('auth-burst').map((r) => r.status)).toEqual(['success']);
    expect(calls('automation.cancelExecution')).toBe(0);
    expect(pipeline.simulator.stepPatchCount('wf-auth-burst', 'auth-burst-task')).toBeGreaterThanOrEqual(1);
    expect(stepOf('auth-burst')?.status).toBe('COMPLETED');
  });

  it('a start refused with 403 on every attempt ends in a FAILED step naming the refused call; nothing ran', async () => {
    pipeline.simulator.scriptFault({ operation: 'automation.startExecution', times: 3, fault: { status: 403 } });

    const report = await run('start-403');

    const summary = summarizeTask(report);
    expect(summary).toMatchObject({ outcome: 'patched', stepStatus: 'FAILED' });
    expect(summary.reason).toMatch(/EpilotAuthError: startExecution \(POST \/v1\/automation\/executions\) answered 403/);
    expect(runsOf('start-403')).toHaveLength(0);
    expect(stepOf('start-403')?.status).toBe('FAILED');
  });

  it.each([
    ['throttled', 'throttle'],
    ['timed-out', 'timeout'],
  ] as const)('a poller Lambda %s once (injected fault: %s) is retried: no cancel, the step ends COMPLETED', async (name, fault) => {
    const cancelsBefore = calls('automation.cancelExecution');
    pipeline.runner.injectLambdaFault({ stateName: TaskStates.getAutomationStatus, fault });

    const report = await run(name);

    expect(report.status).toBe('SUCCEEDED');
    expect(summarizeTask(report)).toMatchObject({ outcome: 'patched', stepStatus: 'COMPLETED' });
    expect(runsOf(name).map((r) => r.status)).toEqual(['success']);
    expect(calls('automation.cancelExecution')).toBe(cancelsBefore);
    expect(stepOf(name)?.status).toBe('COMPLETED');
  });

  it('after a start answered 429 with Retry-After: 5, no call for the task reaches epilot sooner than 5 s later (the Step Functions retry included)', async () => {
    pipeline.simulator.scriptFault({
      operation: 'automation.startExecution',
      times: 1,
      fault: { status: 429, body: { status: 429, error: 'Too Many Requests' }, headers: { 'Retry-After': '5' } },
    });
    const from = pipeline.simulator.traffic.length;

    const report = await run('start-429');

    expect(summarizeTask(report)).toMatchObject({ outcome: 'patched', stepStatus: 'COMPLETED' });
    const automationCalls = pipeline.simulator.traffic.slice(from).filter((exchange) => exchange.api === 'automation');
    const limited = automationCalls.find((exchange) => exchange.fault === 'scripted:429');
    const next = automationCalls[automationCalls.indexOf(limited ?? automationCalls[0]!) + 1];
    expect(limited).toBeDefined();
    expect(next).toBeDefined();
    expect((next?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(5000);
    expect(runsOf('start-429')).toHaveLength(1);
  });
});
