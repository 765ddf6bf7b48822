import type { Command } from 'commander';
import { endpointsOf, runnerSettingsOf } from '../../../lambdas/shared/config/settings';
import { EntityApi } from '../../../lambdas/shared/epilot/entity-api';
import { EpilotHttp } from '../../../lambdas/shared/epilot/http';
import { WorkflowsV1Engine } from '../../../lambdas/shared/epilot/workflows-v1';
import { dryRunSweep } from '../dry-run';
import { addLocalRunOptions, addSettingOptions, JSON_OPTION, type LocalRunOptions, localClock, settingsFromOptions } from '../options';
import { ProgressView } from '../report';
import { DEFAULT_STATE_DIR, interruptible, resolveToken, runSweep, startRunner } from '../run';
import { withStackRetries } from '../stack-retry';

type SweepOptions = LocalRunOptions & { token?: string; epilotTokenSecretName?: string; dryRun?: boolean; json?: boolean };

/** `epilot-task-runner sweep`: one detection sweep against an epilot API, every task found taken to its end. */
export function addSweepCommand(program: Command): void {
  const command = program
    .command('sweep')
    .description('one detection sweep against an epilot API; every automation task found is taken to a final state')
    .option('--token <token>', 'epilot API token (default: $EPILOT_API_TOKEN)')
    .option('--dry-run', 'list the tasks that would run; start and change nothing')
    .option(...JSON_OPTION);
  addSettingOptions(command, ['epilot', 'runner']);
  addLocalRunOptions(command, { logLevel: 'WARN', stateDir: DEFAULT_STATE_DIR });
  command.action(async (options: SweepOptions) => {
    const settings = settingsFromOptions(options);
    const json = options.json === true;
    const token = await resolveToken(options, settings);
    const endpoints = endpointsOf(settings);
    const clock = localClock(options);
    const http = (maxAttempts = 3) =>
      new EpilotHttp({ endpoints, token: async () => token, timeoutMs: settings.httpTimeoutMs, clock, maxAttempts });
    if (options.dryRun) {
      const client = http();
      await dryRunSweep(
        { entities: new EntityApi(client), workflows: new WorkflowsV1Engine(client) },
        settings,
        { json, out: process.stdout },
        clock,
      );
      return;
    }
    const interrupts = interruptible(options.stateDir);
    try {
      // One search call first, so a wrong token or an unreachable API is reported at once, not after retries; a
      // 5xx, a 429 or a reset of a reachable API is retried as the deployed sweep retries it.
      const probe = new EntityApi(http(1));
      await withStackRetries(
        clock,
        () => probe.searchPage({ q: settings.searchQuery, size: 1 }),
        (error) => !cannotConnect(error),
      );
      const progress = json ? undefined : new ProgressView(process.stdout);
      const runner = await startRunner(options, {
        endpoints,
        token,
        settings: runnerSettingsOf(settings),
        clock,
        ...(progress ? { onTaskEvent: progress.update } : {}),
      });
      interrupts.attach(runner);
      try {
        await interrupts.during(runSweep(runner, json, progress));
      } finally {
        await runner.stop();
      }
    } finally {
      interrupts.dispose();
    }
  });
}

/** No connection was made at all (wrong URL or no network): not worth a retry on the first call of a sweep. */
function cannotConnect(error: unknown): boolean {
  return error instanceof Error && /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN)\b/.test(error.message);
}
