import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { endpointsOf, type RunnerSettings, runnerSettingsOf } from '../../../lambdas/shared/config/settings';
import { type EpilotSimulator, startEpilotSimulator } from '../../../simulator/epilot-simulator';
import type { LocalRunner, SweepReport } from '../../runner/local-runner';
import {
  addLocalRunOptions,
  addSettingOptions,
  DEMO_SEED_FILE,
  JSON_OPTION,
  type LocalRunOptions,
  localClock,
  seedFromOption,
  settingsFromOptions,
} from '../options';
import { ProgressView, sweepSummaryJson } from '../report';
import { runSweep, startRunner, SweepFailed } from '../run';
import { prepareDemoStateDir } from '../demo-state-dir';

/** The demo's flows take seconds; its defaults let a `never` flow time out and a finished task settle quickly. */
const DEMO_DEFAULTS: Partial<RunnerSettings> = { automationTimeoutMs: 8000, doneSettleMs: 60_000 };

/** `epilot-task-runner demo` (what `npm start` runs): a simulated organisation and sweeps over it. */
export function addDemoCommand(program: Command): void {
  const command = program
    .command('demo')
    .description('start a simulated epilot organisation and run one sweep over it (what `npm start` does)')
    .option('--seed <file>', 'organisation to simulate', DEMO_SEED_FILE)
    .option(...JSON_OPTION);
  addSettingOptions(command, ['runner'], DEMO_DEFAULTS);
  // The simulated organisation is new every run, so its records start empty too: in a folder of the demo's own.
  addLocalRunOptions(command, {
    logLevel: 'ERROR',
    stateDirHelp: `where task records are kept: a new or empty folder, or one an earlier demo made (default: a temporary folder)`,
  });
  command.action(async (options: Omit<LocalRunOptions, 'stateDir'> & { stateDir?: string; seed: string; json?: boolean }) => {
    const settings = settingsFromOptions(options, DEMO_DEFAULTS);
    const json = options.json === true;
    const token = randomBytes(16).toString('hex');
    const clock = localClock(options);
    const seed = seedFromOption(options.seed);
    const stateDir = prepareDemoStateDir(options.stateDir);
    const progress = json ? undefined : new ProgressView(process.stdout);
    let simulator: EpilotSimulator | undefined;
    let runner: LocalRunner | undefined;
    try {
      simulator = await startEpilotSimulator({ token, seed, clock });
      runner = await startRunner(
        { ...options, stateDir: stateDir.dir },
        {
          endpoints: endpointsOf({ ...settings, epilotApiUrl: simulator.url }),
          token,
          settings: runnerSettingsOf(settings),
          clock,
          ...(progress ? { onTaskEvent: progress.update } : {}),
        },
      );
      const sweepOnce = async (started: LocalRunner): Promise<SweepReport> => {
        if (progress) return runSweep(started, false, progress);
        // --json: one document with every sweep, printed at the end, so the output parses as a whole.
        const report = await started.sweep();
        if (report.sweepStatus !== 'SUCCEEDED') throw new SweepFailed(report.sweepError ?? 'the sweep failed');
        return report;
      };
      if (!json) process.stdout.write(`Simulated epilot organisation at ${simulator.url}\nSweeping for automation tasks…\n`);
      const reports = [await sweepOnce(runner)];
      // A patched step moves its workflow on; the next task may be an automation too, found by the next sweep.
      for (let sweep = 2; sweep <= 3 && reports.at(-1)?.tasks.some((task) => task.output?.result); sweep++) {
        if (!json) process.stdout.write(`\nSweep ${sweep}: workflows moved on after the patches…\n`);
        reports.push(await sweepOnce(runner));
      }
      if (json) process.stdout.write(`${JSON.stringify({ sweeps: reports.map(sweepSummaryJson) }, null, 2)}\n`);
    } finally {
      await runner?.stop();
      await simulator?.stop();
      stateDir.dispose();
    }
  });
}
