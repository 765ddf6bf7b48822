import '../emulator/polyfills';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { systemClock } from '../../lambdas/shared/clock';
import { EntityApi } from '../../lambdas/shared/epilot/entity-api';
import { EpilotHttp } from '../../lambdas/shared/epilot/http';
import { WorkflowsV1Engine } from '../../lambdas/shared/epilot/workflows-v1';
import { describeError, EpilotPermanentError, EpilotTransientError } from '../../lambdas/shared/errors';
import { type EpilotEndpoints, resolveEndpoints, type RunnerSettings, runnerSettings } from '../../lambdas/shared/config/settings';
import { startEpilotSimulator } from '../../simulator/epilot-simulator';
import { loadSeedFile } from '../../simulator/seed';
import { dryRunSweep } from './dry-run';
import { LocalRunner, type SweepReport, type TaskProgressEvent } from '../runner/local-runner';
import { ProgressView, renderSummaryTable, sweepSummaryJson } from './report';
import { startServe, taskEndLine } from './commands/serve';
import { StderrLogger } from './stderr-logger';

const DEFAULT_STATE_DIR = '.epilot-task-runner';
const DEMO_SEED = path.join(__dirname, '..', '..', 'simulator', 'demo-organisation.json');

/** A mistake in how the command was called: reported in one line, exit code 2. */
class UsageError extends Error {}

function positiveInt(name: string) {
  return (value: string) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError(`${name} must be a positive whole number`);
    return parsed;
  };
}

function url(value: string): string {
  try {
    const parsed = new URL(value);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error();
    return value.replace(/\/+$/, '');
  } catch {
    throw new InvalidArgumentError(`${value} is not an http(s) URL`);
  }
}

interface CommonOptions {
  pollInterval: number;
  timeout: number;
  stateDir: string;
  concurrency: number;
  logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
}

interface EpilotApiOptions {
  apiUrl?: string;
  entityUrl?: string;
  workflowUrl?: string;
  automationUrl?: string;
  token?: string;
  query: string;
}

const addRunnerOptions = (command: Command, defaults: { timeoutMs: number; logLevel: string; stateDir: string }) =>
  command
    .option('--poll-interval <ms>', 'milliseconds between two status calls of a run', positiveInt('--poll-interval'), 1000)
    .option('--timeout <ms>', 'milliseconds before a run is cancelled and its step failed', positiveInt('--timeout'), defaults.timeoutMs)
    .option('--state-dir <dir>', 'where the embedded DynamoDB keeps task records', defaults.stateDir)
    .option('--concurrency <n>', 'task executions running at once', positiveInt('--concurrency'), 10)
    .addOption(
      new Option('--log-level <level>', 'structured logs on stderr').choices(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT']).default(defaults.logLevel),
    );

const addEpilotApiOptions = (command: Command, queryDescription: string) =>
  command
    .option('--api-url <url>', 'one base URL for the entity, workflow and automation APIs', url)
    .option('--entity-url <url>', 'entity API base URL (default: epilot production)', url)
    .option('--workflow-url <url>', 'workflow API base URL (default: epilot production)', url)
    .option('--automation-url <url>', 'automation API base URL (default: epilot production)', url)
    .option('--token <token>', 'epilot API token (default: $EPILOT_API_TOKEN)')
    .option('--query <lucene>', queryDescription, '*');

const JSON_OPTION = ['--json', 'print a machine-readable summary on stdout (logs go to stderr)'] as const;

function requireToken(options: EpilotApiOptions): string {
  const token = options.token ?? process.env.EPILOT_API_TOKEN;
  if (!token) throw new UsageError('no epilot API token: pass --token or set EPILOT_API_TOKEN');
  return token;
}

function settingsFrom(options: CommonOptions, extra: Partial<RunnerSettings> = {}): RunnerSettings {
  try {
    return runnerSettings({ pollIntervalMs: options.pollInterval, automationTimeoutMs: options.timeout, ...extra });
  } catch (error) {
    throw new UsageError(describeError(error).replace(/^Error: /, ''));
  }
}

function startRunner(
  options: CommonOptions,
  run: { endpoints: EpilotEndpoints; token: string; settings: RunnerSettings; onTaskEvent?: (event: TaskProgressEvent) => void },
): Promise<LocalRunner> {
  return LocalRunner.start({
    ...run,
    clock: systemClock,
    logger: new StderrLogger({ logLevel: options.logLevel }),
    stateDir: options.stateDir,
    concurrency: options.concurrency,
  });
}

async function runSweep(runner: LocalRunner, json: boolean, progress: ProgressView | undefined): Promise<SweepReport> {
  const report = await runner.sweep();
  progress?.finish();
  if (report.sweepStatus !== 'SUCCEEDED') throw new SweepFailed(report.sweepError ?? 'the sweep failed');
  if (json) process.stdout.write(`${JSON.stringify(sweepSummaryJson(report), null, 2)}\n`);
  else process.stdout.write(`${renderSummaryTable(report)}\n`);
  return report;
}

class SweepFailed extends Error {}

export function buildProgram(): Command {
  const program = new Command()
    .name('epilot-task-runner')
    .description('Runs epilot workflow task automations: the same state machines as on AWS, on this machine')
    .showHelpAfterError('(add --help for usage)');

  addRunnerOptions(
    program
      .command('demo')
      .description('start a simulated epilot organisation and run one sweep over it (what `npm start` does)')
      .option('--seed <file>', 'organisation to simulate', DEMO_SEED)
      .option(...JSON_OPTION),
    // The simulated organisation is new every run, so its records start empty too.
    { timeoutMs: 8000, logLevel: 'ERROR', stateDir: path.join(DEFAULT_STATE_DIR, 'demo') },
  ).action(async (options: CommonOptions & { seed: string; json?: boolean }) => {
    const json = options.json === true;
    const token = randomBytes(16).toString('hex');
    fs.rmSync(options.stateDir, { recursive: true, force: true });
    const simulator = await startEpilotSimulator({ token, seed: loadSeedFile(options.seed) });
    const progress = json ? undefined : new ProgressView(process.stdout);
    const runner = await startRunner(options, {
      endpoints: resolveEndpoints({ apiUrl: simulator.url }),
      token,
      settings: settingsFrom(options, { doneSettleMs: 60_000 }),
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

  addRunnerOptions(
    addEpilotApiOptions(
      program
        .command('sweep')
        .description('one detection sweep against an epilot API; every automation task found is taken to a final state'),
      'entity search query selecting the entities to look at',
    )
      .option('--dry-run', 'list the tasks that would run; start and change nothing')
      .option(...JSON_OPTION),
    { timeoutMs: 300_000, logLevel: 'WARN', stateDir: DEFAULT_STATE_DIR },
  ).action(async (options: CommonOptions & EpilotApiOptions & { dryRun?: boolean; json?: boolean }) => {
    const json = options.json === true;
    const token = requireToken(options);
    const endpoints = resolveEndpoints(options);
    const settings = settingsFrom(options, { searchQuery: options.query });
    const http = (maxAttempts = 3) =>
      new EpilotHttp({ endpoints, token: async () => token, timeoutMs: settings.httpTimeoutMs, clock: systemClock, maxAttempts });
    if (options.dryRun) {
      const client = http();
      await dryRunSweep({ entities: new EntityApi(client), workflows: new WorkflowsV1Engine(client) }, settings, {
        json,
        out: process.stdout,
      });
      return;
    }
    // One search call first, so a wrong token or an unreachable API is reported at once, not after retries.
    await new EntityApi(http(1)).searchPage({ q: settings.searchQuery, size: 1 });
    const progress = json ? undefined : new ProgressView(process.stdout);
    const runner = await startRunner(options, {
      endpoints,
      token,
      settings,
      ...(progress ? { onTaskEvent: progress.update } : {}),
    });
    try {
      await runSweep(runner, json, progress);
    } finally {
      await runner.stop();
    }
  });

  addRunnerOptions(
    addEpilotApiOptions(
      program
        .command('serve')
        .description('receive signed epilot webhooks on POST /webhook (loopback) and run the tasks they point at')
        .option('--port <port>', 'port on 127.0.0.1 to listen on', positiveInt('--port'), 8787)
        .option('--sweep-every <seconds>', 'also sweep every so many seconds', positiveInt('--sweep-every'))
        .option('--webhook-secret <whsec>', 'the webhook signing secret (default: $EPILOT_WEBHOOK_SECRET)'),
      'entity search query of the sweeps (--sweep-every)',
    ),
    { timeoutMs: 300_000, logLevel: 'WARN', stateDir: DEFAULT_STATE_DIR },
  ).action(
    async (options: CommonOptions & EpilotApiOptions & { port: number; sweepEvery?: number; webhookSecret?: string }) => {
      const token = requireToken(options);
      const secret = options.webhookSecret ?? process.env.EPILOT_WEBHOOK_SECRET;
      if (!secret) throw new UsageError('no webhook signing secret: pass --webhook-secret or set EPILOT_WEBHOOK_SECRET');
      if (!secret.startsWith('whsec_')) throw new UsageError('the webhook signing secret must start with whsec_');
      const say = (text: string) => process.stdout.write(`${new Date().toISOString()} ${text}\n`);
      const runner = await startRunner(options, {
        endpoints: resolveEndpoints(options),
        token,
        settings: settingsFrom(options, { searchQuery: options.query }),
        onTaskEvent: (event) => {
          const text = taskEndLine(event);
          if (text) say(text);
        },
      });
      let serving: Awaited<ReturnType<typeof startServe>>;
      try {
        serving = await startServe({ runner, secret, port: options.port, sweepEverySeconds: options.sweepEvery, out: process.stdout });
      } catch (error) {
        await runner.stop();
        throw error;
      }
      say(`listening for epilot webhooks on ${serving.url} (Ctrl-C stops)`);
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      say(`${signal}: no new deliveries; waiting for task executions in flight…`);
      await serving.stop();
      say('stopped');
    },
  );
  return program;
}

/** One clear line for what a user can fix (options, token, reachability); a stack trace for anything else. */
export function explainFailure(error: unknown): { message: string; exitCode: number } {
  if (error instanceof UsageError) return { message: error.message, exitCode: 2 };
  const text = error instanceof Error ? error.message : String(error);
  if (error instanceof SweepFailed || error instanceof EpilotPermanentError || error instanceof EpilotTransientError) {
    if (/answered 401/.test(text)) return { message: `epilot rejected the API token (401): ${text}`, exitCode: 1 };
    if (/answered 403/.test(text)) return { message: `the API token may not do this (403): ${text}`, exitCode: 1 };
    if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|timeout/i.test(text)) {
      return { message: `the epilot API is unreachable: ${text}`, exitCode: 1 };
    }
    return { message: `the sweep failed: ${text}`, exitCode: 1 };
  }
  return { message: describeError(error), exitCode: 1 };
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram().exitOverride();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('commander.')) {
      const exitCode = (error as { exitCode?: number }).exitCode ?? 2;
      return code === 'commander.helpDisplayed' || code === 'commander.version' ? 0 : exitCode === 0 ? 0 : 2;
    }
    const { message, exitCode } = explainFailure(error);
    process.stderr.write(`epilot-task-runner: ${message}\n`);
    return exitCode;
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
