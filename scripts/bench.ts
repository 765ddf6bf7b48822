/**
 * `npm run bench`: what one task costs and how fast its step is patched, measured on the synthesized state
 * machines run locally (local/local-runner.ts) against the epilot simulator, with time scaled down.
 *
 *   npm run bench                  # tables and PASS/FAIL of the targets (issue 6)
 *   npm run bench -- --json        # everything machine-readable on stdout
 *   npm run bench -- --only 30s    # one scenario (30s, 5min, mixed, latency, options, sweep, bundles)
 *
 * It is a script, not a test: numbers depend on the machine only where noted (wall time, memory, and the
 * simulated durations of the short Lambdas, which include this machine's processing time times the time scale).
 */
import '../local/emulator/polyfills';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { build } from 'esbuild';
import { type Clock, scaledClock } from '../lambdas/shared/clock';
import { createLogger } from '../lambdas/shared/logger';
import { endpointsOf, type RunnerSettings, runnerSettings } from '../lambdas/shared/config/settings';
import { deploymentSettings } from '../lib/deployment-settings';
import { EpilotTaskRunnerStack } from '../lib/stack';
import { LocalRunner, type TaskExecutionReport } from '../local/runner/local-runner';
import { formatTable } from '../local/cli/report';
import { createLocalApp, stateMachineDefinitions, synthesizeTemplate } from '../local/emulator/synthesized-definitions';
import { startEpilotSimulator } from '../simulator/epilot-simulator';
import { type FlowSeedInput, generateOrganisation } from '../simulator/seed';

// ---------------------------------------------------------------------------------------------------------------
// Prices (AWS list prices, us-east-1) and targets

export const PRICES = {
  /** Step Functions Standard: per state transition. */
  transition: 0.025 / 1000,
  /** Lambda: per request. */
  lambdaRequest: 0.2 / 1_000_000,
  /** Lambda on ARM (Graviton): per GB-second. */
  lambdaGbSecond: 0.0000133334,
} as const;

const TARGETS = {
  fiveMinuteCostPerTask: 0.001,
  thirtySecondCostPerTask: 0.0003,
  latencyP99Ms: 1500,
  statusCallsPerSecond: 1,
} as const;

/** The bench's automations run up to 5 minutes; the default timeout (5 minutes) would cut the long one off. */
const BENCH_TIMEOUT_MS = 600_000;
const TOKEN = 'bench-secret-token';

// ---------------------------------------------------------------------------------------------------------------
// Scenarios and polling designs

interface Scenario {
  id: string;
  title: string;
  tasks: number;
  flows: FlowSeedInput[];
  /** Task executions at once. */
  concurrency: number;
  /** Simulated time runs this many times faster than real time. */
  timeScale: number;
}

interface Design {
  id: string;
  title: string;
  settings: Partial<RunnerSettings>;
}

const CURRENT: Design = { id: 'current', title: 'current (poll window 120 s)', settings: {} };
const NAIVE: Design = { id: 'naive', title: 'naive Wait → Lambda → Choice at 1 s', settings: { pollWindowMs: 0 } };
const WINDOW = (seconds: number): Design => ({
  id: `window-${seconds}s`,
  title: `poll window ${seconds} s`,
  settings: { pollWindowMs: seconds * 1000 },
});

const flow = (id: string, outcome: FlowSeedInput['outcome'], totalMs: number): FlowSeedInput => ({
  id,
  name: id,
  outcome,
  // A run is `pending` for a moment after the start, as on epilot, then `in_progress`.
  pendingMs: Math.min(500, totalMs),
  durationMs: Math.max(0, totalMs - 500),
});

/** The mixed set: 20 slots, used round-robin by the generated tasks (so 1,000 tasks get 50 of each slot). */
const MIXED_FLOWS: FlowSeedInput[] = [
  ...Array.from({ length: 8 }, (_, i) => flow(`ok-10s-${i}`, 'success', 10_000)),
  ...Array.from({ length: 5 }, (_, i) => flow(`ok-30s-${i}`, 'success', 30_000)),
  ...Array.from({ length: 2 }, (_, i) => flow(`ok-2min-${i}`, 'success', 120_000)),
  ...Array.from({ length: 2 }, (_, i) => flow(`failed-20s-${i}`, 'failed', 20_000)),
  flow('skipped-5s', 'skipped', 5_000),
  flow('cancelled-15s', 'cancelled', 15_000),
  { id: 'hot', name: 'hot', outcome: 'hot', pendingMs: 0, durationMs: 0 },
];

/**
 * The latency target's own scenario. In the others every real millisecond this machine spends in a handler, the
 * emulator or the simulator counts ten simulated ones, and 50 executions at once saturate 2 cores, so their
 * completion → patch figures measure the laptop more than the design (on AWS each Lambda has its own CPU). At 2x
 * and 20 executions at once, local processing counts about as it would take on AWS, and the figure shows what the
 * design adds: the poll interval, the transitions and the calls between a run's end and its patch.
 */
const LATENCY_SCENARIO: Scenario = {
  id: 'latency',
  title: 'completion → patch, 40 short runs of four outcomes at 2x',
  tasks: 40,
  // Ends spread over the poll interval (…050 ms to …950 ms after a whole second): runs that end on the second the
  // poller calls would show no wait for the next status call at all.
  flows: (['success', 'failed', 'skipped', 'cancelled', 'success'] as const).flatMap((outcome, i) =>
    [50, 550].map((offsetMs, j) => {
      const totalMs = (3 + i) * 1000 + offsetMs + 200 * (i % 3) + 100 * j;
      return flow(`${outcome}-${totalMs}ms`, outcome, totalMs);
    }),
  ),
  concurrency: 20,
  timeScale: 2,
};

const SCENARIOS: Record<'30s' | '5min' | 'mixed', Scenario> = {
  '30s': {
    id: '30s',
    title: '30-second automation',
    tasks: 20,
    flows: [flow('ok-30s', 'success', 30_000)],
    concurrency: 20,
    timeScale: 10,
  },
  '5min': {
    id: '5min',
    title: '5-minute automation',
    tasks: 10,
    flows: [flow('ok-5min', 'success', 300_000)],
    concurrency: 10,
    timeScale: 10,
  },
  mixed: { id: 'mixed', title: 'mixed set of 1,000 tasks', tasks: 1000, flows: MIXED_FLOWS, concurrency: 50, timeScale: 10 },
};

// ---------------------------------------------------------------------------------------------------------------
// Lambda memory, from the synthesized template

/** MemorySize (MB) of the Lambda each Task state invokes, read from the template `cdk deploy` would ship. */
export function lambdaMemoryByState(): Record<string, number> {
  const app = createLocalApp();
  const stack = new EpilotTaskRunnerStack(app, 'EpilotTaskRunner', {
    settings: deploymentSettings({}),
  });
  const template = synthesizeTemplate(stack);
  const memory: Record<string, number> = {};
  for (const definition of stateMachineDefinitions(template)) {
    for (const [stateName, logicalId] of Object.entries(definition.taskFunctions)) {
      const size = template.Resources[logicalId]?.Properties?.MemorySize;
      if (typeof size !== 'number') throw new Error(`Function ${logicalId} of state ${stateName} has no MemorySize`);
      memory[stateName] = size;
    }
  }
  return memory;
}

// ---------------------------------------------------------------------------------------------------------------
// One scenario with one design

interface InvocationStats {
  count: number;
  billedMs: number;
  gbSeconds: number;
}

export interface ScenarioResult {
  scenario: string;
  design: string;
  title: string;
  settings: Pick<RunnerSettings, 'pollIntervalMs' | 'pollWindowMs' | 'automationTimeoutMs'>;
  tasks: number;
  timeScale: number;
  concurrency: number;
  wallMs: number;
  executions: Record<string, number>;
  stepStatuses: Record<string, number>;
  perTask: {
    /** As Standard bills them: every state entered, every retry. */
    stateTransitions: number;
    lambdaInvocations: number;
    gbSeconds: number;
    epilotCalls: Record<string, number>;
  };
  invocationsByState: Record<string, InvocationStats & { memoryMb: number; meanMs: number }>;
  latencyMs: { runs: number; p50: number; p99: number; max: number; missing: number };
  /** p50/p99 per kind of flow (flow id without its slot number). */
  latencyByFlowMs: Record<string, { runs: number; p50: number; p99: number }>;
  statusCalls: {
    total: number;
    runtimeSeconds: number;
    /** Σ status calls / Σ run time (creation → terminal). */
    perSecondOfRuntime: number;
    /** Worst run: its calls / its run time rounded up to whole seconds (at least 1): every run needs one call. */
    maxPerStartedSecond: number;
  };
  cost: { perTask: number; per1000Tasks: { transitions: number; lambdaRequests: number; lambdaDuration: number; total: number } };
  sweep: { stateTransitions: number; detectInvocations: number };
}

export async function runScenario(scenario: Scenario, design: Design, memory: Record<string, number>): Promise<ScenarioResult> {
  const clock = scaledClock(scenario.timeScale);
  const seed = generateOrganisation({ entities: scenario.tasks, automationTasks: scenario.tasks, manualTasks: 0, flows: scenario.flows });
  const flowsById = new Map(seed.flows.map((f) => [f.id, f]));
  const simulator = await startEpilotSimulator({ token: TOKEN, seed, clock, recordTraffic: false, deterministicIds: true });
  const settings = runnerSettings({ automationTimeoutMs: BENCH_TIMEOUT_MS, ...design.settings });
  const invocations: Record<string, InvocationStats> = {};
  const runner = await LocalRunner.create({
    endpoints: endpointsOf({ epilotApiUrl: simulator.url }),
    token: TOKEN,
    settings,
    clock,
    timeScale: scenario.timeScale,
    logger: createLogger({ logLevel: 'SILENT' }),
    concurrency: scenario.concurrency,
    onInvocation: (stateName, simulatedMs) => {
      const memoryMb = memory[stateName];
      if (memoryMb === undefined) throw new Error(`No Lambda memory known for state ${stateName}`);
      const billedMs = Math.max(1, Math.ceil(simulatedMs));
      const stats = (invocations[stateName] ??= { count: 0, billedMs: 0, gbSeconds: 0 });
      stats.count += 1;
      stats.billedMs += billedMs;
      stats.gbSeconds += (billedMs / 1000) * (memoryMb / 1024);
    },
  });
  const started = Date.now();
  let sweep;
  try {
    sweep = await runner.sweep();
  } finally {
    await runner.stop();
  }
  const wallMs = Date.now() - started;

  // What happened to each run, in simulated time.
  const reports = new Map<string, TaskExecutionReport>();
  for (const report of sweep.tasks) reports.set(`${report.input.workflowExecutionId}/${report.input.taskId}`, report);
  const latencies: number[] = [];
  const latenciesByFlow: Record<string, number[]> = {};
  let missing = 0;
  let runtimeMs = 0;
  let statusCallsOfRuns = 0;
  let maxPerStartedSecond = 0;
  for (const run of simulator.listAutomationRuns()) {
    const context = run.workflowContext;
    const seedFlow = flowsById.get(run.flowId);
    if (!context?.workflow_exec_task_id || !seedFlow) continue;
    const terminalAt =
      run.cancelledAt ?? (seedFlow.outcome === 'hot' ? run.createdAt : run.createdAt + seedFlow.pendingMs + seedFlow.durationMs);
    // The final patch, not the IN_PROGRESS note of the run that comes right after its start.
    const patch = simulator
      .getStepPatches(context.workflow_exec_id, context.workflow_exec_task_id)
      .find((candidate) => candidate.body.status !== undefined && candidate.body.status !== 'IN_PROGRESS');
    if (patch) {
      latencies.push(patch.at - terminalAt);
      (latenciesByFlow[run.flowId.replace(/-\d+$/, '')] ??= []).push(patch.at - terminalAt);
    } else missing += 1;
    const polls = reports.get(`${context.workflow_exec_id}/${context.workflow_exec_task_id}`)?.output?.run?.polls ?? 0;
    runtimeMs += terminalAt - run.createdAt;
    statusCallsOfRuns += polls;
    maxPerStartedSecond = Math.max(maxPerStartedSecond, polls / Math.max(1, Math.ceil((terminalAt - run.createdAt) / 1000)));
  }
  await simulator.stop();

  const tasks = sweep.tasks.length;
  const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
  const perTask = (value: number) => (tasks === 0 ? 0 : value / tasks);
  const { 'Detect tasks': detect, ...taskInvocations } = invocations;
  const invocationCount = sum(Object.values(taskInvocations).map((stats) => stats.count));
  const gbSeconds = sum(Object.values(taskInvocations).map((stats) => stats.gbSeconds));
  const transitions = sum(sweep.tasks.map((report) => report.stateTransitions));
  const epilotCalls = sweep.epilotCalls;
  const perTaskCost = {
    transitions: perTask(transitions) * PRICES.transition,
    lambdaRequests: perTask(invocationCount) * PRICES.lambdaRequest,
    lambdaDuration: perTask(gbSeconds) * PRICES.lambdaGbSecond,
  };
  const costPerTask = perTaskCost.transitions + perTaskCost.lambdaRequests + perTaskCost.lambdaDuration;
  const sorted = [...latencies].sort((a, b) => a - b);

  return {
    scenario: scenario.id,
    design: design.id,
    title: design.title,
    settings: {
      pollIntervalMs: settings.pollIntervalMs,
      pollWindowMs: settings.pollWindowMs,
      automationTimeoutMs: settings.automationTimeoutMs,
    },
    tasks,
    timeScale: scenario.timeScale,
    concurrency: scenario.concurrency,
    wallMs,
    executions: countBy(sweep.tasks.map((report) => report.status)),
    stepStatuses: countBy(sweep.tasks.map((report) => report.output?.result?.stepStatus ?? 'not patched')),
    perTask: {
      stateTransitions: perTask(transitions),
      lambdaInvocations: perTask(invocationCount),
      gbSeconds: perTask(gbSeconds),
      epilotCalls: Object.fromEntries(Object.entries(epilotCalls).map(([key, count]) => [key, perTask(count)])),
    },
    invocationsByState: Object.fromEntries(
      Object.entries(taskInvocations).map(([state, stats]) => [
        state,
        { ...stats, memoryMb: memory[state] ?? 0, meanMs: stats.count === 0 ? 0 : stats.billedMs / stats.count },
      ]),
    ),
    latencyMs: {
      runs: sorted.length,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? Number.NaN,
      missing,
    },
    latencyByFlowMs: Object.fromEntries(
      Object.entries(latenciesByFlow).map(([kind, values]) => {
        const ordered = [...values].sort((a, b) => a - b);
        return [kind, { runs: ordered.length, p50: percentile(ordered, 50), p99: percentile(ordered, 99) }];
      }),
    ),
    statusCalls: {
      total: statusCallsOfRuns,
      runtimeSeconds: runtimeMs / 1000,
      perSecondOfRuntime: runtimeMs > 0 ? statusCallsOfRuns / (runtimeMs / 1000) : Number.NaN,
      maxPerStartedSecond,
    },
    cost: {
      perTask: costPerTask,
      per1000Tasks: {
        transitions: perTaskCost.transitions * 1000,
        lambdaRequests: perTaskCost.lambdaRequests * 1000,
        lambdaDuration: perTaskCost.lambdaDuration * 1000,
        total: costPerTask * 1000,
      },
    },
    sweep: { stateTransitions: sweep.sweepTransitions, detectInvocations: detect?.count ?? 0 },
  };
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] ?? Number.NaN;
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

// ---------------------------------------------------------------------------------------------------------------
// The 100,000-entity sweep

export interface SweepResult {
  entities: number;
  automationTasks: number;
  pageSize: number;
  searchCalls: number;
  searchCallLimit: number;
  pages: number;
  tasksRun: number;
  stepsPatched: number;
  wallMs: number;
  seedMs: number;
  detectPageRealMs: { mean: number; max: number };
  memory: {
    /** Before the sweep started (organisation loaded). */
    baseline: { rssMb: number; heapUsedMb: number };
    peak: { rssMb: number; heapUsedMb: number };
    /** heapUsed after a full GC at the end of page 1, 11, 21, …: the first, the last, the most. */
    heapAfterFirstPageMb: number;
    heapAfterLastPageMb: number;
    heapAfterPageMaxMb: number;
    samples: number;
  };
}

export async function runSweep(entities: number, automationTasks: number, memory: Record<string, number>): Promise<SweepResult> {
  const timeScale = 50;
  const clock: Clock = scaledClock(timeScale);
  const seedStarted = Date.now();
  const seed = generateOrganisation({
    entities,
    automationTasks,
    manualTasks: automationTasks * 10,
    flows: [flow('sweep-ok-2s', 'success', 2_000)],
  });
  const simulator = await startEpilotSimulator({ token: TOKEN, seed, clock, recordTraffic: false, deterministicIds: true });
  const seedMs = Date.now() - seedStarted;
  const settings = runnerSettings({ automationTimeoutMs: BENCH_TIMEOUT_MS });
  const heapAtPageEnd: number[] = [];
  // A full collection at each page end shows what the sweep really keeps (not what the GC has not reclaimed yet).
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const pageRealMs: number[] = [];
  const runner = await LocalRunner.create({
    endpoints: endpointsOf({ epilotApiUrl: simulator.url }),
    token: TOKEN,
    settings,
    clock,
    timeScale,
    logger: createLogger({ logLevel: 'SILENT' }),
    concurrency: 50,
    onInvocation: (stateName, simulatedMs) => {
      if (memory[stateName] === undefined) throw new Error(`No Lambda memory known for state ${stateName}`);
      if (stateName !== 'Detect tasks') return;
      pageRealMs.push(simulatedMs / timeScale);
      // Every tenth page (a GC takes a while; the wall time should stay the sweep's).
      if (pageRealMs.length % 10 !== 1) return;
      gc();
      heapAtPageEnd.push(process.memoryUsage().heapUsed);
    },
  });
  simulator.resetCallCounts();
  const mb = (bytes: number) => bytes / 1024 / 1024;
  const baseline = process.memoryUsage();
  let peakRss = baseline.rss;
  let peakHeap = baseline.heapUsed;
  let samples = 0;
  const sampler = setInterval(() => {
    const usage = process.memoryUsage();
    peakRss = Math.max(peakRss, usage.rss);
    peakHeap = Math.max(peakHeap, usage.heapUsed);
    samples += 1;
  }, 10);
  const started = Date.now();
  let report;
  try {
    report = await runner.sweep();
  } finally {
    clearInterval(sampler);
    await runner.stop();
  }
  const wallMs = Date.now() - started;
  const searchCalls = simulator.callCounts()['entity.searchEntities'] ?? 0;
  const stepsPatched = simulator.callCounts()['workflow.updateStep'] ?? 0;
  await simulator.stop();
  return {
    entities,
    automationTasks,
    pageSize: settings.searchPageSize,
    searchCalls,
    searchCallLimit: Math.ceil(entities / settings.searchPageSize),
    pages: report.sweep?.page ?? 0,
    tasksRun: report.tasks.length,
    stepsPatched,
    wallMs,
    seedMs,
    detectPageRealMs: {
      mean: pageRealMs.length ? pageRealMs.reduce((a, b) => a + b, 0) / pageRealMs.length : Number.NaN,
      max: Math.max(...pageRealMs),
    },
    memory: {
      baseline: { rssMb: mb(baseline.rss), heapUsedMb: mb(baseline.heapUsed) },
      peak: { rssMb: mb(peakRss), heapUsedMb: mb(peakHeap) },
      heapAfterFirstPageMb: mb(heapAtPageEnd[0] ?? Number.NaN),
      heapAfterLastPageMb: mb(heapAtPageEnd[heapAtPageEnd.length - 1] ?? Number.NaN),
      heapAfterPageMaxMb: mb(Math.max(...heapAtPageEnd)),
      samples,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Lambda bundles

export interface BundleResult {
  handler: string;
  bytes: number;
  /** The three largest contributors, by package (`own` = this repository's code). */
  largest: Array<{ from: string; bytes: number }>;
}

/** Bundles each `lambdas/<state>/handler.ts` with the options lib/runner-function.ts gives NodejsFunction. */
export async function measureBundles(): Promise<BundleResult[]> {
  const root = path.join(__dirname, '..');
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-bundles-'));
  try {
    const results: BundleResult[] = [];
    for (const directory of fs.readdirSync(path.join(root, 'lambdas')).sort()) {
      const entry = path.join(root, 'lambdas', directory, 'handler.ts');
      if (!fs.existsSync(entry)) continue;
      const outfile = path.join(outdir, `${directory}.js`);
      const built = await build({
        entryPoints: [entry],
        bundle: true,
        platform: 'node',
        minify: true,
        target: 'node22',
        format: 'cjs',
        external: ['@aws-sdk/*'],
        outfile,
        metafile: true,
        logLevel: 'error',
      });
      const byPackage: Record<string, number> = {};
      for (const output of Object.values(built.metafile.outputs)) {
        for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
          const from = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? 'own';
          byPackage[from] = (byPackage[from] ?? 0) + bytesInOutput;
        }
      }
      results.push({
        handler: `lambdas/${directory}/handler.ts`,
        bytes: fs.statSync(outfile).size,
        largest: Object.entries(byPackage)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 3)
          .map(([from, bytes]) => ({ from, bytes })),
      });
    }
    return results;
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Output

const usd = (value: number, digits = 6) => `$${value.toFixed(digits)}`;
const num = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;

function scenarioTable(results: ScenarioResult[]): string {
  const endpoints = [...new Set(results.flatMap((result) => Object.keys(result.perTask.epilotCalls)))].sort();
  const rows: string[][] = [
    ['tasks (concurrency, time scale)', ...results.map((r) => `${r.tasks} (${r.concurrency}, ${r.timeScale}x)`)],
    [
      'executions',
      ...results.map((r) =>
        Object.entries(r.executions)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      ),
    ],
    [
      'step statuses',
      ...results.map((r) =>
        Object.entries(r.stepStatuses)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      ),
    ],
    ['state transitions / task (retries incl.)', ...results.map((r) => num(r.perTask.stateTransitions))],
    ['Lambda invocations / task', ...results.map((r) => num(r.perTask.lambdaInvocations))],
    ['billed GB-s / task', ...results.map((r) => num(r.perTask.gbSeconds, 3))],
    ...endpoints.map((endpoint) => [`epilot ${endpoint} / task`, ...results.map((r) => num(r.perTask.epilotCalls[endpoint] ?? 0, 2))]),
    ['status calls / s of runtime', ...results.map((r) => num(r.statusCalls.perSecondOfRuntime, 3))],
    ['  worst run, / started second', ...results.map((r) => num(r.statusCalls.maxPerStartedSecond, 3))],
    ['completion → patch p50 (sim.)', ...results.map((r) => `${num(r.latencyMs.p50, 0)} ms`)],
    ['completion → patch p99 (sim.)', ...results.map((r) => `${num(r.latencyMs.p99, 0)} ms`)],
    ['  transitions / 1,000 tasks', ...results.map((r) => usd(r.cost.per1000Tasks.transitions, 4))],
    ['  Lambda requests / 1,000 tasks', ...results.map((r) => usd(r.cost.per1000Tasks.lambdaRequests, 4))],
    ['  Lambda GB-s / 1,000 tasks', ...results.map((r) => usd(r.cost.per1000Tasks.lambdaDuration, 4))],
    ['cost / 1,000 tasks', ...results.map((r) => usd(r.cost.per1000Tasks.total, 4))],
    ['cost / task', ...results.map((r) => usd(r.cost.perTask))],
    ['wall time', ...results.map((r) => `${num(r.wallMs / 1000)} s`)],
  ];
  return formatTable(['', ...results.map((r) => r.title)], rows);
}

interface Check {
  target: string;
  measured: string;
  pass: boolean;
}

function checks(byScenario: Record<string, ScenarioResult[]>): Check[] {
  const current = (id: string) => byScenario[id]?.find((result) => result.design === CURRENT.id);
  const list: Check[] = [];
  const five = current('5min');
  if (five) {
    list.push({
      target: `5-minute automation ≤ ${usd(TARGETS.fiveMinuteCostPerTask, 4)} per task`,
      measured: usd(five.cost.perTask),
      pass: five.cost.perTask <= TARGETS.fiveMinuteCostPerTask,
    });
  }
  const thirty = current('30s');
  if (thirty) {
    list.push({
      target: `30-second automation ≤ ${usd(TARGETS.thirtySecondCostPerTask, 4)} per task`,
      measured: usd(thirty.cost.perTask),
      pass: thirty.cost.perTask <= TARGETS.thirtySecondCostPerTask,
    });
  }
  const latency = current(LATENCY_SCENARIO.id);
  if (latency) {
    list.push({
      target: `completion → patch p99 ≤ ${TARGETS.latencyP99Ms} ms (latency scenario, 2x)`,
      measured: `${num(latency.latencyMs.p99, 0)} ms`,
      pass: latency.latencyMs.p99 <= TARGETS.latencyP99Ms,
    });
  }
  const measured = ['30s', '5min', 'mixed'].map(current).filter((result): result is ScenarioResult => result !== undefined);
  if (measured.length > 0) {
    const rate = Math.max(...measured.map((result) => result.statusCalls.maxPerStartedSecond));
    list.push({
      target: `≤ ${TARGETS.statusCallsPerSecond} status call per second of runtime (worst run, started seconds)`,
      measured: num(rate, 3),
      pass: rate <= TARGETS.statusCallsPerSecond,
    });
  }
  return list;
}

interface Options {
  json: boolean;
  only: string[] | undefined;
  sweepEntities: number;
  /** Overrides every scenario's time scale. */
  scale: number | undefined;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { json: false, only: undefined, sweepEntities: 100_000, scale: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') options.json = true;
    else if (arg === '--only') options.only = (argv[++i] ?? '').split(',');
    else if (arg === '--sweep-entities') options.sweepEntities = Number(argv[++i]);
    else if (arg === '--scale') options.scale = Number(argv[++i]);
    else
      throw new Error(
        `Unknown option ${arg} (known: --json, --only <30s,5min,mixed,latency,options,sweep,bundles>, --sweep-entities <n>, --scale <x>)`,
      );
  }
  return options;
}

export async function main(argv: string[]): Promise<number> {
  const options = parseArgs(argv);
  const wanted = (part: string) => options.only === undefined || options.only.includes(part);
  const log = (text: string) => (options.json ? process.stderr : process.stdout).write(`${text}\n`);
  const benchStarted = Date.now();
  const memory = lambdaMemoryByState();
  log(
    `Lambda memory from the synthesized template: ${Object.entries(memory)
      .map(([state, mb]) => `${state} ${mb} MB`)
      .join(', ')}`,
  );

  const byScenario: Record<string, ScenarioResult[]> = {};
  const scaled = (scenario: Scenario): Scenario => (options.scale ? { ...scenario, timeScale: options.scale } : scenario);
  for (const unscaled of Object.values(SCENARIOS)) {
    const scenario = scaled(unscaled);
    if (!wanted(scenario.id)) continue;
    for (const design of [CURRENT, NAIVE]) {
      log(`… ${scenario.title}: ${design.title}`);
      (byScenario[scenario.id] ??= []).push(await runScenario(scenario, design, memory));
    }
    if (!options.json) log(`\n## ${scenario.title}\n\n${scenarioTable(byScenario[scenario.id] ?? [])}\n`);
  }

  if (wanted(LATENCY_SCENARIO.id)) {
    log(`… ${LATENCY_SCENARIO.title}: ${CURRENT.title}`);
    byScenario[LATENCY_SCENARIO.id] = [await runScenario(LATENCY_SCENARIO, CURRENT, memory)];
    if (!options.json) log(`\n## ${LATENCY_SCENARIO.title}\n\n${scenarioTable(byScenario[LATENCY_SCENARIO.id] ?? [])}\n`);
  }

  let polling: ScenarioResult[] | undefined;
  if (wanted('options')) {
    // The polling designs measured for the README: the same state machine, different poll windows.
    polling = [];
    // Cost hardly depends on the time scale (the status Lambda mostly sleeps), so these run at 20x to save time.
    for (const scenario of [SCENARIOS['30s'], SCENARIOS['5min']].map((s) => scaled({ ...s, timeScale: 20 }))) {
      for (const design of [WINDOW(30), WINDOW(300), WINDOW(600)]) {
        log(`… ${scenario.title}: ${design.title}`);
        polling.push(await runScenario(scenario, design, memory));
      }
    }
    if (!options.json) {
      const rows = polling.map((r) => [
        r.scenario,
        r.title,
        num(r.perTask.stateTransitions),
        num(r.perTask.lambdaInvocations),
        num(r.perTask.gbSeconds, 3),
        `${num(r.latencyMs.p99, 0)} ms`,
        usd(r.cost.perTask),
      ]);
      log(
        `\n## Other poll windows\n\n${formatTable(['scenario', 'design', 'transitions / task', 'invocations / task', 'GB-s / task', 'p99', 'cost / task'], rows)}\n`,
      );
    }
  }

  let sweep: SweepResult | undefined;
  if (wanted('sweep')) {
    log(`… sweep over ${options.sweepEntities.toLocaleString('en')} entities`);
    sweep = await runSweep(options.sweepEntities, 100, memory);
    if (!options.json) {
      const s = sweep;
      log(
        `\n## Sweep over ${s.entities.toLocaleString('en')} entities (${s.automationTasks} automation tasks)\n\n` +
          formatTable(
            ['', ''],
            [
              ['search calls', `${s.searchCalls} (limit ⌈N/${s.pageSize}⌉ = ${s.searchCallLimit})`],
              ['pages', String(s.pages)],
              ['task executions / steps patched', `${s.tasksRun} / ${s.stepsPatched}`],
              ['wall time (sweep; organisation built in)', `${num(s.wallMs / 1000)} s (${num(s.seedMs / 1000)} s)`],
              ['Detect tasks per page (real time)', `mean ${num(s.detectPageRealMs.mean, 0)} ms, max ${num(s.detectPageRealMs.max, 0)} ms`],
              ['RSS before / peak', `${num(s.memory.baseline.rssMb, 0)} MB / ${num(s.memory.peak.rssMb, 0)} MB`],
              ['heap used before / peak', `${num(s.memory.baseline.heapUsedMb, 0)} MB / ${num(s.memory.peak.heapUsedMb, 0)} MB`],
              [
                'heap after GC at pages 1, 11, 21, …: first / last / most',
                `${num(s.memory.heapAfterFirstPageMb, 0)} / ${num(s.memory.heapAfterLastPageMb, 0)} / ${num(s.memory.heapAfterPageMaxMb, 0)} MB`,
              ],
            ],
          ) +
          '\n',
      );
    }
  }

  let bundles: BundleResult[] | undefined;
  if (wanted('bundles')) {
    log('… bundling the Lambdas');
    bundles = await measureBundles();
    if (!options.json) {
      const rows = bundles.map((b) => [b.handler, kb(b.bytes), b.largest.map((l) => `${l.from} ${kb(l.bytes)}`).join(', ')]);
      log(
        `\n## Lambda bundles (esbuild: minify, node22, cjs, @aws-sdk/* external)\n\n${formatTable(['handler', 'size', 'largest parts'], rows)}\n`,
      );
    }
  }

  const results = checks(byScenario);
  if (sweep) {
    results.push({
      target: `${sweep.entities.toLocaleString('en')}-entity sweep: ≤ ${sweep.searchCallLimit} search calls`,
      measured: String(sweep.searchCalls),
      pass: sweep.searchCalls <= sweep.searchCallLimit,
    });
  }
  const benchMs = Date.now() - benchStarted;
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({ prices: PRICES, targets: TARGETS, lambdaMemoryMb: memory, scenarios: byScenario, pollWindows: polling, sweep, bundles, checks: results, wallMs: benchMs }, null, 2)}\n`,
    );
  } else {
    log(
      `## Targets\n\n${formatTable(
        ['target', 'measured', ''],
        results.map((c) => [c.target, c.measured, c.pass ? 'PASS' : 'FAIL']),
      )}\n`,
    );
    log(`Bench took ${num(benchMs / 1000)} s.`);
  }
  return results.every((check) => check.pass) ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 2;
    },
  );
}
