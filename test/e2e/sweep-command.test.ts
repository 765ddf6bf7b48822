import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { scaledClock } from '../../lambdas/shared/clock';
import { type EpilotSimulator, startEpilotSimulator } from '../../simulator/epilot-simulator';
import { runCli } from '../support/cli-process';
import { DEMO_SEED } from '../support/local-pipeline';

const TOKEN = 'cli-test-token';
/**
 * The CLI's hidden `--time-scale`: its runner's clock (Wait states, polling, the run deadline) runs this much faster
 * than real time, and so does the simulator's (automation runs progress on it), so the demo's never-ending flow
 * reaches `--timeout 3000` in 150 ms instead of 3 s.
 */
const TIME_SCALE = 20;
const cli = runCli;

interface SweepJson {
  sweep: { status: string; started: number; candidates: number; recentlyDone: number };
  tasks: Array<{
    taskId: string;
    outcome: string;
    stepStatus?: string;
    automationExecutionId?: string;
    automationStatus?: string;
    polls: number;
    stateTransitions: number;
    lambdaInvocations: number;
    durationMs: number;
  }>;
}

describe('epilot-task-runner sweep', () => {
  let simulator: EpilotSimulator;
  let stateDir: string;
  beforeAll(async () => {
    simulator = await startEpilotSimulator({ token: TOKEN, seed: DEMO_SEED, clock: scaledClock(TIME_SCALE) });
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'epilot-task-runner-'));
  });
  afterAll(async () => {
    await simulator.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });
  const sweepArgs = () => [
    'sweep',
    '--epilot-api-url',
    simulator.url,
    '--json',
    '--state-dir',
    stateDir,
    '--poll-interval-ms',
    '200',
    '--automation-timeout-ms',
    '3000',
    '--time-scale',
    String(TIME_SCALE),
  ];

  it('--json takes every automation task to a final state and prints a machine-readable summary', async () => {
    const result = await cli(sweepArgs(), { EPILOT_API_TOKEN: TOKEN });
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as SweepJson;
    expect(summary.sweep).toMatchObject({ status: 'SUCCEEDED', started: 8, candidates: 8 });
    const byTask = Object.fromEntries(summary.tasks.map((task) => [task.taskId, task]));
    expect(byTask['mueller-offer']).toMatchObject({ outcome: 'patched', stepStatus: 'COMPLETED', automationStatus: 'success' });
    expect(byTask['becker-order']).toMatchObject({ outcome: 'patched', stepStatus: 'FAILED', automationStatus: 'hot' });
    expect(byTask['hoffmann-erp']).toMatchObject({ outcome: 'patched', stepStatus: 'FAILED' });
    for (const task of summary.tasks) {
      expect(task.automationExecutionId).toEqual(expect.any(String));
      expect(task.stateTransitions).toBeGreaterThan(0);
      expect(task.lambdaInvocations).toBeGreaterThan(0);
    }
  });

  it('run again in the same state dir, it starts and patches nothing', async () => {
    const before = simulator.callCounts();
    const result = await cli(sweepArgs(), { EPILOT_API_TOKEN: TOKEN });
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as SweepJson;
    // The workflow that moved on to its next automation task is the only one with new work.
    expect(summary.tasks.map((task) => task.taskId)).toEqual(['richter-notify']);
    const between = simulator.callCounts();
    expect((between['automation.startExecution'] ?? 0) - (before['automation.startExecution'] ?? 0)).toBe(1);

    const third = JSON.parse((await cli(sweepArgs(), { EPILOT_API_TOKEN: TOKEN })).stdout) as SweepJson;
    expect(third.tasks).toEqual([]);
    expect(simulator.callCounts()['automation.startExecution']).toBe(between['automation.startExecution']);
    expect(simulator.callCounts()['workflow.updateStep']).toBe(between['workflow.updateStep']);
  });

  it('--dry-run lists what would run and changes nothing', async () => {
    const fresh = await startEpilotSimulator({ token: TOKEN, seed: DEMO_SEED });
    try {
      const result = await cli(['sweep', '--epilot-api-url', fresh.url, '--token', TOKEN, '--dry-run', '--json']);
      expect(result.code).toBe(0);
      const plan = JSON.parse(result.stdout) as { tasks: Array<{ taskId: string; wouldRun: boolean }> };
      expect(plan.tasks.filter((task) => task.wouldRun)).toHaveLength(8);
      expect(fresh.callCounts()['automation.startExecution'] ?? 0).toBe(0);
      expect(fresh.callCounts()['workflow.updateStep'] ?? 0).toBe(0);
    } finally {
      await fresh.stop();
    }
  });

  it('--dry-run exits 0 when one workflow read fails with 5xx on every attempt of the HTTP client (retried as the deployed states retry)', async () => {
    const fresh = await startEpilotSimulator({ token: TOKEN, seed: DEMO_SEED, clock: scaledClock(TIME_SCALE) });
    try {
      // Three answers: all of the client's own attempts for one read, so only a retry like the stack's survives it.
      fresh.scriptFault({ operation: 'workflow.getExecution', times: 3, fault: 'serverError' });
      const args = ['sweep', '--epilot-api-url', fresh.url, '--token', TOKEN, '--dry-run', '--json', '--time-scale', String(TIME_SCALE)];
      const result = await cli(args);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const plan = JSON.parse(result.stdout) as { tasks: Array<{ taskId: string; wouldRun: boolean }> };
      expect(plan.tasks.filter((task) => task.wouldRun)).toHaveLength(8);
      expect(fresh.traffic.filter((exchange) => exchange.fault === 'scripted:503')).toHaveLength(3);
    } finally {
      await fresh.stop();
    }
  });

  it.each([
    ['a 502', { status: 502 }, 'scripted:502'],
    ['a reset', 'reset', 'scripted:reset'],
  ] as const)(
    'a sweep whose first entity search gets %s succeeds (retried as the deployed sweep retries it)',
    async (_case, fault, label) => {
      const fresh = await startEpilotSimulator({ token: TOKEN, seed: DEMO_SEED, clock: scaledClock(TIME_SCALE) });
      const freshDir = fs.mkdtempSync(path.join(os.tmpdir(), 'epilot-task-runner-'));
      try {
        fresh.scriptFault({ operation: 'entity.searchEntities', times: 1, fault });
        const args = [...sweepArgs().slice(0, 1), '--epilot-api-url', fresh.url, ...sweepArgs().slice(3)];
        args[args.indexOf('--state-dir') + 1] = freshDir;
        const result = await cli(args, { EPILOT_API_TOKEN: TOKEN });
        expect(result.code).toBe(0);
        const summary = JSON.parse(result.stdout) as SweepJson;
        expect(summary.sweep).toMatchObject({ status: 'SUCCEEDED', started: 8 });
        expect(fresh.traffic.filter((exchange) => exchange.fault === label)).toHaveLength(1);
      } finally {
        await fresh.stop();
        fs.rmSync(freshDir, { recursive: true, force: true });
      }
    },
  );

  // Side by side, each with its own simulator and state dir (concurrent tests start before beforeAll hooks run).
  it.concurrent.each([
    ['a missing token', [], {}, /no epilot API token/],
    ['a wrong token', ['--token', 'wrong'], {}, /rejected the API token \(401\)/],
    ['an unreachable API', ['--token', TOKEN, '--epilot-api-url', 'http://127.0.0.1:9'], {}, /unreachable/],
    ['a bad option value', ['--token', TOKEN, '--poll-interval-ms', 'soon'], {}, /option --poll-interval-ms: must be a whole number/],
  ])('fails with one clear line for %s', async (_case, extra, env, message) => {
    const ownSimulator = await startEpilotSimulator({ token: TOKEN, seed: DEMO_SEED });
    const ownStateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'epilot-task-runner-failing-'));
    const args = ['sweep', '--epilot-api-url', ownSimulator.url, '--state-dir', ownStateDir, ...extra];
    const result = await cli(args, { EPILOT_API_TOKEN: '', ...env }).finally(async () => {
      await ownSimulator.stop();
      fs.rmSync(ownStateDir, { recursive: true, force: true });
    });
    expect(result.code).not.toBe(0);
    expect(
      result.stderr
        .trim()
        .split('\n')
        .filter((line) => line.includes('epilot-task-runner') || line.startsWith('error')),
    ).toHaveLength(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toContain(TOKEN);
  });
});
