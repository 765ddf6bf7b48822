import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { endpointsOf, type RunnerSettings, runnerSettingsOf } from '../../../lambdas/shared/config/settings';
import { startEpilotSimulator } from '../../../simulator/epilot-simulator';
import { loadSeedFile } from '../../../simulator/seed';
import { addLocalRunOptions, addSettingOptions, JSON_OPTION, type LocalRunOptions, localClock, settingsFromOptions } from '../options';
import { ProgressView } from '../report';
import { DEFAULT_STATE_DIR, runSweep, startRunner } from '../run';

const DEMO_SEED = path.join(__dirname, '..', '..', '..', 'simulator', 'demo-organisation.json');

/** The demo's flows take seconds; its defaults let a `never` flow time out and a finished task settle quickly. */
const DEMO_DEFAULTS: Partial<RunnerSettings> = { automationTimeoutMs: 8000, doneSettleMs: 60_000 };

/** `epilot-task-runner demo` (what `npm start` runs): a simulated organisation and sweeps over it. */
export function addDemoCommand(program: Command): void {
  const command = program
    .command('demo')
    .description('start a simulated epilot organisation and run one sweep over it (what `npm start` does)')
    .option('--seed <file>', 'organisation to simulate', DEMO_SEED)
    .option(...JSON_OPTION);
  addSettingOptions(command, ['runner'], DEMO_DEFAULTS);
  // The simulated organisation is new every run, so its records start empty too.
  addLocalRunOptions(command, { logLevel: 'ERROR', stateDir: path.join(DEFAULT_STATE_DIR, 'demo') });
  command.action(async (options: LocalRunOptions & { seed: string; json?: boolean }) => {
    const settings = settingsFromOptions(options, DEMO_DEFAULTS);
    const json = options.json === true;
    const token = randomBytes(16).toString('hex');
    const clock = localClock(options);
    fs.rmSync(options.stateDir, { recursive: true, force: true });
    const simulator = await startEpilotSimulator({ token, seed: loadSeedFile(options.seed), clock });
    const progress = json ? undefined : new ProgressView(process.stdout);
    const runner = await startRunner(options, {
      endpoints: endpointsOf({ ...settings, epilotApiUrl: simulator.url }),
      token,
      settings: runnerSettingsOf(settings),
      clock,
      ...(progress ? { onTaskEvent: progress.update } : {}),
    });
    try {
      if (!json) process.stdout.write(`Simulated epilot organisation at ${simulator.url}\nSweeping for automation tasks…\n`);
      let report = await runSweep(runner, json, progress);
      // A patched step moves its workflow on; the next task may be an automation too, found by the next sweep.
      for (let sweep = 2; sweep <= 3 && report.tasks.some((task) => task.output?.result); sweep++) {
        if (!json) process.stdout.write(`\nSweep ${sweep}: workflows moved on after the patches…\n`);
        report = await runSweep(runner, json, json ? undefined : new ProgressView(process.stdout));
      }
    } finally {
      await runner.stop();
      await simulator.stop();
    }
  });
}
