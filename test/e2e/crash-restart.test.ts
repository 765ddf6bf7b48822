import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { scaledClock } from '../../lambdas/shared/clock';
import { realDelay, type SoakRunnerConfig } from '../../scripts/soak-shared';
import { type EpilotSimulator, startEpilotSimulator } from '../../simulator/epilot-simulator';
import { generateOrganisation } from '../../simulator/seed';
import { startRunnerProcess } from '../support/runner-process';
import { readTaskRecords } from '../support/state-dir-records';

/**
 * A real crash, not a simulated one: the runner is a separate process (scripts/soak-runner.ts) killed with SIGKILL
 * while automation runs are in flight, then started again on the same state dir. (test/e2e/faults.test.ts fakes a
 * crash by writing the record a dead execution would leave; this one also covers the LevelDB files and the pid
 * lock a killed process leaves behind, and executions dying in whatever state they were in.)
 */

const TOKEN = 'crash-test-token';
const TIME_SCALE = 10;
const TASKS = 24;

describe('a runner killed with SIGKILL mid-run and started again', () => {
  let simulator: EpilotSimulator;
  let stateDir: string;
  const seed = generateOrganisation({
    entities: TASKS * 2,
    automationTasks: TASKS,
    manualTasks: 2,
    flows: [
      { id: 'crash-success', name: 'Succeeds', outcome: 'success', pendingMs: 200, durationMs: 3000 },
      { id: 'crash-failed', name: 'Fails', outcome: 'failed', pendingMs: 200, durationMs: 2000 },
    ],
  });
  beforeAll(async () => {
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crash-restart-'));
  });
  afterAll(async () => {
    await simulator?.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('finishes every task, with one automation run and one patch each, and leaves no record claimed', async () => {
    const clockOrigin = Date.now();
    simulator = await startEpilotSimulator({ token: TOKEN, seed, clock: scaledClock(TIME_SCALE, clockOrigin) });
    const config: SoakRunnerConfig = {
      apiUrl: simulator.url,
      stateDir,
      clockOrigin,
      timeScale: TIME_SCALE,
      concurrency: 4,
      automationTimeoutMs: 8000,
      claimLeaseMs: 10_000,
      doneSettleMs: 5000,
      pollIntervalMs: 1000,
      httpTimeoutMs: 2000,
      maxSweeps: 30,
    };
    const steps = () =>
      seed.workflowExecutions
        .filter((execution) => execution.definitionId === 'generatedAutomationWf')
        .map((execution) => {
          const [first] = execution.flow;
          const step = first && simulator.getStep(execution.id, first.id);
          if (!step) throw new Error(`no first step in ${execution.id}`);
          return { workflowExecutionId: execution.id, step };
        });
    const final = () => steps().filter(({ step }) => ['COMPLETED', 'FAILED'].includes(step.status)).length;

    // First life: killed once some runs have started and before all tasks are done.
    const first = startRunnerProcess(config, TOKEN);
    expect(await first.ready).toBe(true);
    for (let waited = 0; simulator.listAutomationRuns().length < 6 && waited < 15_000; waited += 20) await realDelay(20);
    expect(await first.kill()).toMatchObject({ signal: 'SIGKILL' });
    const runsAtKill = simulator.listAutomationRuns().length;
    expect(runsAtKill).toBeGreaterThanOrEqual(6);
    expect(final()).toBeLessThan(TASKS);

    // Second life, on the same state dir: takes over the dead process's lock and records once their leases end.
    const second = startRunnerProcess(config, TOKEN);
    const exit = await second.exited;
    expect({ exit, output: exit.code === 0 ? [] : second.lines }).toMatchObject({ exit: { code: 0 } });

    expect(final()).toBe(TASKS);
    for (const { workflowExecutionId, step } of steps()) {
      const runs = simulator.runsFor(workflowExecutionId, step.id);
      expect({ task: step.id, runs: runs.length, patches: simulator.stepPatchCount(workflowExecutionId, step.id) }).toEqual({
        task: step.id,
        runs: 1,
        patches: 1,
      });
      expect(step.status).toBe(runs[0]?.flowId === 'crash-success' ? 'COMPLETED' : 'FAILED');
    }
    const records = [...(await readTaskRecords(stateDir)).values()];
    expect(records).toHaveLength(TASKS);
    expect(records.filter((record) => record.status !== 'DONE')).toEqual([]);
  }, 40_000);
});
