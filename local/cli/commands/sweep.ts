import type { Command } from 'commander';
import { endpointsOf, runnerSettingsOf } from '../../../lambdas/shared/config/settings';
import { EntityApi } from '../../../lambdas/shared/epilot/entity-api';
import { EpilotHttp } from '../../../lambdas/shared/epilot/http';
import { WorkflowsV1Engine } from '../../../lambdas/shared/epilot/workflows-v1';
import { probeEpilotApi } from '../api-probe';
import { dryRunSweep } from '../dry-run';
import { addLocalRunOptions, addSettingOptions, JSON_OPTION, type LocalRunOptions, localClock, settingsFromOptions } from '../options';
import { ProgressView } from '../report';
import { DEFAULT_STATE_DIR, interruptible, resolveToken, runSweep, startRunner } from '../run';
import { StderrLogger } from '../stderr-logger';

type SweepOptions = LocalRunOptions & { token?: string; epilotTokenSecretName?: string; dryRun?: boolean; json?: boolean };

/** `epilot-task-runner sweep`: one detection sweep against an epilot API, every task found taken to its end. */
export function addSweepCommand(program: Command): void {
  const command = program
    .command('sweep')
    .description('one detection sweep against an epilot API; every automation task found is taken to a final state')
    .option('--token <token>', 'epilot API token (default: $EPILOT_API_TOKEN)')
    .option('--dry-run', "say what the sweep would do with each task, from the state dir's records; change nothing")
    .option(...JSON_OPTION);
  addSettingOptions(command, ['epilot', 'runner']);
  addLocalRunOptions(command, { logLevel: 'WARN', stateDir: DEFAULT_STATE_DIR });
  command.action(async (options: SweepOptions) => {
    const settings = settingsFromOptions(options);
    const json = options.json === true;
    const token = await resolveToken(options, settings);
    const endpoints = endpointsOf(settings);
    const clock = localClock(options);
    if (options.dryRun) {
      const client = new EpilotHttp({ endpoints, token: async () => token, timeoutMs: settings.httpTimeoutMs, clock, maxAttempts: 3 });
      await dryRunSweep(
        { entities: new EntityApi(client), workflows: new WorkflowsV1Engine(client) },
        settings,
        { json, out: process.stdout },
        clock,
        { stateDir: options.stateDir, logger: new StderrLogger({ logLevel: options.logLevel }) },
      );
      return;
    }
    const interrupts = interruptible(options.stateDir);
    try {
      await probeEpilotApi({ endpoints, token, settings, clock });
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
