import * as path from 'node:path';
import { scaledClock } from '../../lambdas/shared/clock';
import { createLogger, type Logger } from '../../lambdas/shared/logger';
import { endpointsOf, type RunnerSettings, runnerSettings } from '../../lambdas/shared/config/settings';
import type { TokenProvider } from '../../lambdas/shared/epilot/http';
import { LocalRunner } from '../../local/runner/local-runner';
import { type EpilotSimulator, type FaultOptions, startEpilotSimulator } from '../../simulator/epilot-simulator';
import { loadSeedFile, type SimulatorSeedInput, type WorkflowExecutionSeedInput } from '../../simulator/seed';

export const DEMO_SEED = loadSeedFile(path.join(__dirname, '..', '..', 'simulator', 'demo-organisation.json'));

/** An entity of the demo organisation that e2e scenarios attach their own workflows to. */
export const DEMO_ENTITY = '6f1a9a52-0b7e-4c1e-9d3a-1a0000000001';

/** A workflow of one AUTOMATION task (then a manual one, so the workflow stays STARTED) on the demo entity. */
export function singleTaskWorkflow(id: string, taskId: string, flowId = 'flow-send-offer'): WorkflowExecutionSeedInput {
  return {
    id,
    definitionId: 'solarWf',
    name: `Single task ${id}`,
    entityIds: [DEMO_ENTITY],
    flow: [
      { id: taskId, name: 'Send offer', executionType: 'AUTOMATION', automationConfig: { flowId } },
      { id: `${taskId}-next`, name: 'Follow-up call' },
    ],
  };
}

/** Simulated time runs this much faster than real time: a 2 s automation takes 0.2 s, a 1 s poll 0.1 s. */
const TIME_SCALE = 10;

export interface Pipeline {
  simulator: EpilotSimulator;
  runner: LocalRunner;
  stop(): Promise<void>;
}

/** The synthesized state machines, run locally against the simulator with an in-memory DynamoDB. */
export async function startPipeline(
  options: {
    seed?: SimulatorSeedInput;
    settings?: Partial<RunnerSettings>;
    stateDir?: string;
    /** Simulator faults from the start, and the source of their random decisions (seed it for repeatable runs). */
    faults?: FaultOptions;
    random?: () => number;
    /** Default: a silent logger. */
    logger?: Logger;
    /** Default: a fixed test token. */
    token?: string;
    /** How the runner reads the token (default: `token` as it is). */
    tokenProvider?: TokenProvider;
    /** For pipelines that receive webhooks. */
    webhookSecret?: string;
  } = {},
): Promise<Pipeline> {
  const clock = scaledClock(TIME_SCALE);
  const token = options.token ?? 'e2e-secret-token';
  const simulator = await startEpilotSimulator({
    token,
    seed: options.seed ?? DEMO_SEED,
    clock,
    ...(options.faults ? { faults: options.faults } : {}),
    ...(options.random ? { random: options.random } : {}),
  });
  const runner = await LocalRunner.create({
    endpoints: endpointsOf({ epilotApiUrl: simulator.url }),
    token,
    tokenProvider: options.tokenProvider,
    // On the scaled clock the default 3-minute start-settle window is 18 s of real waiting after every start whose
    // answer a fault lost; 30 s keeps what it proves (longer than the HTTP timeout) at a sixth of the wait.
    settings: runnerSettings({ automationTimeoutMs: 8000, startSettleMs: 30_000, ...options.settings }),
    clock,
    timeScale: TIME_SCALE,
    logger: options.logger ?? createLogger({ logLevel: 'SILENT' }),
    stateDir: options.stateDir,
    webhookSecret: options.webhookSecret,
    concurrency: 10,
  });
  return {
    simulator,
    runner,
    async stop() {
      await runner.stop();
      await simulator.stop();
    },
  };
}
