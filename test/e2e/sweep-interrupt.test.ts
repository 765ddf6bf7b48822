import { scaledClock } from '../../lambdas/shared/clock';
import { endpointsOf, runnerSettings } from '../../lambdas/shared/config/settings';
import { createLogger } from '../../lambdas/shared/logger';
import { TaskStates } from '../../lambdas/state-names';
import { LocalRunner } from '../../local/runner/local-runner';
import { type EpilotSimulator, startEpilotSimulator } from '../../simulator/epilot-simulator';
import { generateOrganisation } from '../../simulator/seed';
import { runCli, startCli, temporaryFolders } from '../support/cli-process';
import { DEMO_SEED, singleTaskWorkflow, startPipeline } from '../support/local-pipeline';
import { readTaskRecords } from '../support/state-dir-records';

/**
 * Ctrl-C in `sweep`, and what the next sweep makes of what it left: in the same state dir it takes the records over
 * at once (their process is gone), from another state dir it adopts the runs the steps show. Either way no task's
 * automation runs twice.
 */

const TOKEN = 'interrupt-test-token';
const TIME_SCALE = 20;
const TASKS = 6;
/** Simulated: a run takes 40 s (2 s of real time), so runs are still going when the sweep is interrupted. */
const RUN_MS = 40_000;

const tempDir = temporaryFolders();

const realDelay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startSimulator(
  clockOrigin: number,
): Promise<{ simulator: EpilotSimulator; tasks: () => Array<{ wf: string; taskId: string }> }> {
  const seed = generateOrganisation({
    entities: TASKS * 2,
    automationTasks: TASKS,
    manualTasks: 1,
    flows: [{ id: 'interrupt-flow', name: 'Takes a while', outcome: 'success', pendingMs: 100, durationMs: RUN_MS }],
  });
  const simulator = await startEpilotSimulator({ token: TOKEN, seed, clock: scaledClock(TIME_SCALE, clockOrigin) });
  const tasks = () =>
    seed.workflowExecutions
      .filter((execution) => execution.definitionId === 'generatedAutomationWf')
      .flatMap((execution) => (execution.flow[0] ? [{ wf: execution.id, taskId: execution.flow[0].id }] : []));
  return { simulator, tasks };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > timeoutMs) throw new Error(`gave up waiting for ${what}`);
    await realDelay(20);
  }
}

describe('sweep interrupted with SIGINT, then swept again in the same state dir', () => {
  let simulator: EpilotSimulator;
  afterAll(async () => {
    await simulator?.stop();
  });

  it('exits 130 listing the runs left, releases the unstarted claims, and the next sweep finishes every task at once with one run each', async () => {
    const clockOrigin = Date.now();
    const started = await startSimulator(clockOrigin);
    simulator = started.simulator;
    const stateDir = tempDir('sweep-interrupt-');
    // A claim lease of 10 minutes: the next sweep finishing the tasks within seconds did not wait for a lease.
    const args = [
      'sweep',
      ...['--epilot-api-url', simulator.url, '--state-dir', stateDir, '--concurrency', '2'],
      ...['--claim-lease-ms', '600000', '--automation-timeout-ms', '600000', '--poll-interval-ms', '1000'],
      ...['--time-scale', String(TIME_SCALE), '--time-origin', String(clockOrigin)],
    ];

    const first = startCli(args, { EPILOT_API_TOKEN: TOKEN });
    await waitFor(() => simulator.listAutomationRuns().length >= 2, 'two runs started');
    first.child.kill('SIGINT');
    const exit = await first.exited;
    const runsAtInterrupt = simulator.listAutomationRuns().map((run) => run.id);

    expect({ exit, stderr: exit.code === 130 ? '' : first.stderr() }).toEqual({ exit: { code: 130, signal: null }, stderr: '' });
    const ownLines = first
      .stderr()
      .split('\n')
      .filter((line) => line.startsWith('epilot-task-runner:') || line.startsWith('  '));
    expect(ownLines[0]).toMatch(/^epilot-task-runner: SIGINT: stopping, no more tasks are started/);
    expect(ownLines[1]).toBe(
      `epilot-task-runner: interrupted (SIGINT): ${TASKS - 2} tasks not started (no claim kept), 2 tasks left running:`,
    );
    expect(
      ownLines
        .slice(2, 4)
        .map((line) => /run (\S+) going on in epilot$/.exec(line)?.[1])
        .sort(),
    ).toEqual([...runsAtInterrupt].sort());
    expect(first.stderr()).toContain(`the next sweep with --state-dir ${stateDir} takes these over at once`);
    // No summary table of aborted executions: the tasks are not done, the lines above say what is left.
    expect(first.lines.filter((line) => line.startsWith('workflow '))).toEqual([]);
    const left = [...(await readTaskRecords(stateDir)).values()];
    expect(left.filter((record) => record.status === 'STARTED')).toHaveLength(2);
    // Every other record this sweep claimed has its lease ended already; none is held.
    expect(left.filter((record) => record.status !== 'STARTED' && record.leaseUntil > simulator.now())).toEqual([]);

    const second = await runCli([...args, '--json'], { EPILOT_API_TOKEN: TOKEN });

    expect({ code: second.code, stderr: second.code === 0 ? '' : second.stderr }).toEqual({ code: 0, stderr: '' });
    const summary = JSON.parse(second.stdout) as { tasks: Array<{ taskId: string; outcome: string }> };
    expect(summary.tasks.map((task) => task.outcome)).toEqual(Array.from({ length: TASKS }, () => 'patched'));
    for (const { wf, taskId } of started.tasks()) {
      expect({ taskId, runs: simulator.runsFor(wf, taskId).length, step: simulator.getStep(wf, taskId)?.status }).toEqual({
        taskId,
        runs: 1,
        step: 'COMPLETED',
      });
    }
  }, 60_000);
});

describe('sweep interrupted twice', () => {
  it('exits 130 at the second SIGINT while the first still waits for a start call, without the summary', async () => {
    const clockOrigin = Date.now();
    const { simulator } = await startSimulator(clockOrigin);
    try {
      // The first start is answered after 30 s (real): the first SIGINT waits for that call (up to 10 s).
      simulator.scriptFault({ operation: 'automation.startExecution', fault: { delayMs: 30_000 } });
      const sweep = startCli(
        [
          'sweep',
          ...['--epilot-api-url', simulator.url, '--state-dir', tempDir('sweep-twice-'), '--concurrency', '1'],
          ...[
            '--http-timeout-ms',
            '20000',
            '--claim-lease-ms',
            '600000',
            '--time-scale',
            String(TIME_SCALE),
            '--time-origin',
            String(clockOrigin),
          ],
        ],
        { EPILOT_API_TOKEN: TOKEN },
      );
      await waitFor(() => (simulator.callCounts()['automation.startExecution'] ?? 0) >= 1, 'the start call');
      sweep.child.kill('SIGINT');
      await waitFor(() => sweep.stderr().includes('stopping, no more tasks are started'), 'the first SIGINT to be taken');
      sweep.child.kill('SIGINT');

      expect(await sweep.exited).toEqual({ code: 130, signal: null });
      expect(sweep.stderr()).toContain('epilot-task-runner: SIGINT again: exiting at once');
      expect(sweep.stderr()).not.toContain('interrupted (SIGINT)');
    } finally {
      await simulator.stop();
    }
  }, 60_000);
});

describe('sweep interrupted before its runner started', () => {
  it('exits 130 at once with one line saying no task was started', async () => {
    const { simulator } = await startSimulator(Date.now());
    try {
      // The first search (the token probe) is answered after 30 s: the SIGINT comes while it waits.
      simulator.scriptFault({ operation: 'entity.searchEntities', fault: { delayMs: 30_000 } });
      const sweep = startCli(
        ['sweep', '--epilot-api-url', simulator.url, '--state-dir', tempDir('sweep-early-'), '--http-timeout-ms', '20000'],
        {
          EPILOT_API_TOKEN: TOKEN,
        },
      );
      await waitFor(() => (simulator.callCounts()['entity.searchEntities'] ?? 0) >= 1, 'the probe');
      sweep.child.kill('SIGINT');

      expect(await sweep.exited).toEqual({ code: 130, signal: null });
      expect(
        sweep
          .stderr()
          .split('\n')
          .filter((line) => line.startsWith('epilot-task-runner:')),
      ).toEqual(['epilot-task-runner: SIGINT: stopped before any task was started']);
      expect(simulator.callCounts()['automation.startExecution']).toBe(0);
    } finally {
      await simulator.stop();
    }
  }, 60_000);
});

describe('a runner interrupted after its starts, then a sweep from another state dir', () => {
  it('starts no task a second time (one automation run each) and every step ends final', async () => {
    const clockOrigin = Date.now();
    const { simulator, tasks } = await startSimulator(clockOrigin);
    const clock = scaledClock(TIME_SCALE, clockOrigin);
    const settings = runnerSettings({ pollIntervalMs: 1000, automationTimeoutMs: 600_000 });
    const runner = (stateDir: string) =>
      LocalRunner.create({
        endpoints: endpointsOf({ epilotApiUrl: simulator.url }),
        token: TOKEN,
        settings,
        clock,
        logger: createLogger({ logLevel: 'SILENT' }),
        stateDir,
        concurrency: TASKS,
        timeScale: TIME_SCALE,
      });
    try {
      const first = await runner(tempDir('interrupt-a-'));
      const sweeping = first.sweep();
      // Each step shows its run (IN_PROGRESS with automationConfig.executionId) right after the start.
      const remembered = () =>
        tasks().every(({ wf, taskId }) => {
          const step = simulator.getStep(wf, taskId);
          const config = step?.automationConfig;
          return step?.status === 'IN_PROGRESS' && typeof config === 'object' && config !== null && 'executionId' in config;
        });
      await waitFor(remembered, 'every step to show its run');
      const left = await first.interrupt();
      await sweeping;
      await first.stop();
      expect(left.leftRunning).toHaveLength(TASKS);

      const second = await runner(tempDir('interrupt-b-'));
      try {
        await second.sweep();
      } finally {
        await second.stop();
      }

      for (const { wf, taskId } of tasks()) {
        expect({ taskId, runs: simulator.runsFor(wf, taskId).length, step: simulator.getStep(wf, taskId)?.status }).toEqual({
          taskId,
          runs: 1,
          step: 'COMPLETED',
        });
      }
    } finally {
      await simulator.stop();
    }
  }, 60_000);
});

describe('a runner interrupted between claiming a task and starting its run', () => {
  it('releases the claim (its lease ends now, owner and run unchanged) and reports the task as not started', async () => {
    const pipeline = await startPipeline({
      seed: { ...DEMO_SEED, workflowExecutions: [singleTaskWorkflow('wf-release', 'release-task')] },
    });
    const key = { workflowExecutionId: 'wf-release', taskId: 'release-task' };
    try {
      // The start's Lambda hangs without doing any work: the record stays CLAIMED, no start sent.
      pipeline.runner.injectLambdaFault({ stateName: TaskStates.startAutomation, fault: 'timeout' });
      const sweeping = pipeline.runner.sweep();
      await waitForAsync(async () => (await pipeline.runner.records.get(key))?.status === 'CLAIMED', 'the claim');
      const claimed = await pipeline.runner.records.get(key);

      const left = await pipeline.runner.interrupt(100);
      await sweeping;

      expect(left).toMatchObject({ notStarted: [key], leftRunning: [] });
      const released = await pipeline.runner.records.get(key);
      expect(released).toMatchObject({ status: 'CLAIMED', owner: claimed?.owner, version: (claimed?.version ?? 0) + 1 });
      expect(released?.leaseUntil).toBeLessThan(pipeline.simulator.now());
      expect(released?.startAttemptedAt).toBeUndefined();
      expect(pipeline.simulator.runsFor(key.workflowExecutionId, key.taskId)).toEqual([]);
    } finally {
      await pipeline.stop();
    }
  }, 60_000);
});

async function waitForAsync(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  for (let waited = 0; !(await condition()); waited += 20) {
    if (waited > timeoutMs) throw new Error(`gave up waiting for ${what}`);
    await realDelay(20);
  }
}
