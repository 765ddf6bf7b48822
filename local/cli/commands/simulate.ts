import { type Command, InvalidArgumentError, Option } from 'commander';
import { kebabCase } from '../../../lambdas/shared/config/settings';
import { startEpilotSimulator } from '../../../simulator/epilot-simulator';
import { type FaultOptions, FaultOptionsSchema } from '../../../simulator/faults';
import {
  acceptedNumbers,
  addClockOptions,
  DEMO_SEED_FILE,
  type LocalRunOptions,
  localClock,
  portNumber,
  portRefusal,
  seedFromOption,
  withRange,
} from '../options';

/** Fixed, so the README's commands work as written; the simulator holds no real data. */
const SIMULATOR_TOKEN = 'simulator-token';

/**
 * The simulator's random faults a user can turn on, with their help. Each option is named like its fault setting
 * (`serverErrorRate` → `--server-error-rate`) and checked by that setting's schema, so ranges live in faults.ts only.
 */
const FAULT_OPTIONS = {
  serverErrorRate: 'share of requests answered 502 or 503 without being processed',
  tooManyRequestsRate: 'share of requests answered 429 with Retry-After without being processed',
  retryAfterSeconds: 'the Retry-After of those 429 answers, in seconds',
  resetRate: 'share of requests whose connection is dropped without an answer',
  latencyMs: 'milliseconds added before each answer: a number, or MIN-MAX for a random delay in between',
  lostStartResponseRate: 'share of automation starts whose run is created but whose answer is lost',
  runListLagMs: 'milliseconds a new automation run stays out of the run list',
} as const satisfies Partial<Record<keyof FaultOptions, string>>;
type FaultOption = keyof typeof FAULT_OPTIONS;
const FAULT_NAMES = Object.keys(FAULT_OPTIONS) as FaultOption[];

const flagOfFault = (name: FaultOption) => `--${kebabCase(name)}`;

/** Text → the fault setting's value, refused in terms of the option when the schema refuses it. */
function faultValue(name: FaultOption) {
  const schema = FaultOptionsSchema.shape[name];
  return (text: string): unknown => {
    const range = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(text);
    const value =
      name === 'latencyMs' && range ? { min: Number(range[1]), max: Number(range[2]) } : text.trim() === '' ? NaN : Number(text);
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const accepted = name === 'latencyMs' ? 'a whole number of at least 0, or MIN-MAX' : acceptedNumbers(schema.unwrap());
      throw new InvalidArgumentError(`${flagOfFault(name)} must be ${accepted}`);
    }
    return parsed.data;
  };
}

type SimulateOptions = Pick<LocalRunOptions, 'timeScale' | 'timeOrigin'> & { port: number; token: string; seed: string } & Partial<
    Record<FaultOption, unknown>
  >;

/** `epilot-task-runner simulate`: the epilot simulator on its own, for trying `sweep`, `serve` and `deliver`. */
export function addSimulateCommand(program: Command): void {
  const command = program
    .command('simulate')
    .description('run a simulated epilot organisation (entity, workflow and automation APIs) until Ctrl-C')
    .option('--port <port>', 'port on 127.0.0.1 to listen on (0: any free port)', portNumber('--port'), 4010)
    .option('--token <token>', 'the API token the simulator accepts', SIMULATOR_TOKEN)
    .option('--seed <file>', 'organisation to simulate (JSON like simulator/demo-organisation.json)', DEMO_SEED_FILE);
  for (const name of FAULT_NAMES) {
    command.addOption(
      new Option(
        `${flagOfFault(name)} <${name.endsWith('Rate') ? 'share' : 'n'}>`,
        withRange(FAULT_OPTIONS[name], FaultOptionsSchema.shape[name].unwrap()),
      ).argParser(faultValue(name)),
    );
  }
  addClockOptions(command);
  command.action(async (options: SimulateOptions) => {
    const seed = seedFromOption(options.seed);
    const faults = FaultOptionsSchema.parse(
      Object.fromEntries(FAULT_NAMES.flatMap((name) => (options[name] === undefined ? [] : [[name, options[name]]]))),
    );
    const timeOrigin = options.timeOrigin ?? Date.now();
    const simulator = await startEpilotSimulator({
      token: options.token,
      seed,
      port: options.port,
      faults,
      clock: localClock({ timeScale: options.timeScale, timeOrigin }),
    }).catch((error: unknown) => {
      throw portRefusal(error, '--port', options.port);
    });
    const say = (text: string) => process.stdout.write(`${text}\n`);
    // A scaled clock is only useful when the runner shares it: the example passes the same scale and origin.
    const clockFlags = options.timeScale === 1 ? '' : ` --time-scale ${options.timeScale} --time-origin ${timeOrigin}`;
    say(
      `Simulated epilot organisation: ${seed.entities.length} entities, ${seed.workflowExecutions.length} workflows, ${seed.flows.length} automation flows`,
    );
    say(`  base URL:  ${simulator.url}   (--epilot-api-url)`);
    say(`  API token: ${options.token}`);
    const active = Object.entries(faults).map(([name, value]) => `${name} ${JSON.stringify(value)}`);
    if (active.length > 0) say(`  faults:    ${active.join(', ')}`);
    say('Try, in another terminal:');
    say(`  EPILOT_API_TOKEN=${options.token} npx epilot-task-runner sweep --epilot-api-url ${simulator.url}${clockFlags}`);
    say('Ctrl-C stops.');
    const signal = await nextSignal();
    say(`${signal}: stopping the simulator`);
    await simulator.stop();
    say('stopped');
  });
}

/** Resolves on the first SIGINT or SIGTERM; neither then ends the process before the simulator has stopped. */
function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
