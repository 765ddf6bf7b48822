/**
 * One runner process for the soak's crash phase (and the crash test): starts a LocalRunner on `--state-dir`
 * against the simulator URL the parent holds, sweeps until a sweep finds no automation task left, and exits 0.
 * The parent kills it with SIGKILL at random moments and starts it again.
 *
 *   tsx scripts/soak-runner.ts '<SoakRunnerConfig as JSON>'     (API token in $SOAK_TOKEN)
 *
 * stdout: one JSON line per event (`ready`, `sweep`, `done`), so the parent can time its kill after `ready`.
 */
import { createLogger } from '../lambdas/shared/logger';
import { endpointsOf, runnerSettings } from '../lambdas/shared/config/settings';
import { summarizeTask } from '../local/cli/report';
import { LocalRunner } from '../local/runner/local-runner';
import { scaledClock } from '../lambdas/shared/clock';
import { realDelay, type SoakRunnerConfig } from './soak-shared';

async function main(): Promise<number> {
  const config = JSON.parse(process.argv[2] ?? '') as SoakRunnerConfig;
  const token = process.env.SOAK_TOKEN;
  if (!token) throw new Error('SOAK_TOKEN is not set');
  const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ pid: process.pid, ...event })}\n`);
  const runner = await LocalRunner.create({
    endpoints: endpointsOf({ epilotApiUrl: config.apiUrl }),
    token,
    settings: runnerSettings({
      automationTimeoutMs: config.automationTimeoutMs,
      claimLeaseMs: config.claimLeaseMs,
      doneSettleMs: config.doneSettleMs,
      pollIntervalMs: config.pollIntervalMs,
      httpTimeoutMs: config.httpTimeoutMs,
    }),
    clock: scaledClock(config.timeScale, config.clockOrigin),
    timeScale: config.timeScale,
    logger: createLogger({ logLevel: 'SILENT' }),
    stateDir: config.stateDir,
    concurrency: config.concurrency,
  });
  say({ event: 'ready' });
  try {
    for (let sweep = 1; sweep <= config.maxSweeps; sweep++) {
      const report = await runner.sweep();
      const candidates = report.sweep?.candidates ?? -1;
      say({
        event: 'sweep',
        sweep,
        status: report.sweepStatus,
        candidates,
        executions: report.tasks.length,
        // What each execution ended with: the evidence when work is left over.
        outcomes: report.tasks.map((task) => {
          const summary = summarizeTask(task);
          return `${summary.taskId}:${summary.outcome}:${summary.reason ?? ''}`.slice(0, 300);
        }),
      });
      // Done when a sweep had no work left and no record is unfinished. Entity search may keep showing a finished
      // task for a while (each such execution skips it), and a record an execution died with stays open until its
      // lease runs out and a later sweep resumes it.
      const noWork = report.tasks.every((task) => summarizeTask(task).outcome === 'skipped');
      if (report.sweepStatus === 'SUCCEEDED' && noWork && (await openRecords(runner)) === 0) {
        say({ event: 'done' });
        return 0;
      }
      // Work is left whose records are leased (an execution that died or failed): wait for the leases to run out.
      if (report.tasks.length === 0) await realDelay(config.claimLeaseMs / config.timeScale);
    }
    say({ event: 'gave-up' });
    return 3;
  } finally {
    await runner.stop();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`soak-runner: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);

/** Task records not yet DONE, whatever their lease. */
async function openRecords(runner: LocalRunner): Promise<number> {
  return (await runner.records.abandoned(Number.MAX_SAFE_INTEGER, 1)).length;
}
