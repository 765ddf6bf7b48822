/**
 * `npm run soak`: proves "never lose a task, never run one twice" at scale, against a faulty simulated epilot.
 *
 *   A  500 automation tasks swept by the local runner (two sweeps overlapping, like a schedule) with 10 % 5xx,
 *      5 % 429 (Retry-After), 2 % connection resets and 1 % lost start responses, swept again until no work is left
 *   B  50 concurrent triggers of one task (25 direct task executions, 25 signed webhook deliveries)
 *   C  a runner in a child process killed with SIGKILL at a random moment and started again, 20 times, then run
 *      to completion
 *   D  people and a lagging epilot: 200 tasks swept with A's faults plus starts whose answer is lost or empty or
 *      whose run is created after the client gave up, a run list that lags, hides flow runs without
 *      include_flows and carries a malformed run, people finishing steps while their runs go on, steps reopened
 *      after the runner's patch (keeping the old executionId), patches answered 200 and dropped, reads that still
 *      show a step as it was before a patch, and bursts of 401s as while a token is rotated
 *
 * Then one table: tasks, correct final status, duplicate starts, tasks left unpatched, records left claimed,
 * human decisions overwritten, runs of an earlier round adopted. Exits 1 when any of the counts is not 0 (or a
 * status is wrong).
 *
 *   npm run soak -- [--tasks 500] [--crash-tasks 300] [--kills 20] [--triggers 50] [--people-tasks 200] [--seed 1]
 *                   [--time-scale 10] [--phases ABCD] [--json]
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Clock } from '../lambdas/shared/clock';
import { createLogger } from '../lambdas/shared/logger';
import { endpointsOf, runnerSettings } from '../lambdas/shared/config/settings';
import type { TaskRecord } from '../lambdas/shared/records/task-records';
import { startRunnerProcess } from '../test/support/runner-process';
import { newWebhookSecret, signedDelivery } from '../local/cli/signed-delivery';
import { readTaskRecords, taskKey } from '../test/support/state-dir-records';
import { LocalRunner } from '../local/runner/local-runner';
import { type EpilotSimulator, type FaultOptions, startEpilotSimulator } from '../simulator/epilot-simulator';
import { type FlowOutcome, type FlowSeedInput, generateOrganisation, type SimulatorSeed } from '../simulator/seed';
import { scaledClock } from '../lambdas/shared/clock';
import { seededRandom } from '../simulator/faults';
import { realDelay, type SoakRunnerConfig } from './soak-shared';

// ---------------------------------------------------------------------------------------------------------
// Options

interface SoakOptions {
  tasks: number;
  crashTasks: number;
  kills: number;
  triggers: number;
  peopleTasks: number;
  seed: number;
  timeScale: number;
  json: boolean;
  /** Which phases to run, e.g. `D` or `ABCD` (A and B always run together). */
  phases: string;
}

function parseArgs(argv: string[]): SoakOptions {
  const options: SoakOptions = {
    tasks: 500,
    crashTasks: 300,
    kills: 20,
    triggers: 50,
    peopleTasks: 200,
    seed: 1,
    timeScale: 10,
    json: false,
    phases: 'ABCD',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') options.json = true;
    else if (arg === '--phases') {
      const phases = (argv[++i] ?? '').toUpperCase();
      if (!/^[ABCD]+$/.test(phases)) throw new Error(`bad argument --phases ${phases}: letters of ABCD`);
      options.phases = phases;
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write(
        'npm run soak -- [--tasks 500] [--crash-tasks 300] [--kills 20] [--triggers 50] [--people-tasks 200] [--seed 1] [--time-scale 10] [--phases ABCD] [--json]\n',
      );
      process.exit(0);
    } else {
      const key = (
        {
          '--tasks': 'tasks',
          '--crash-tasks': 'crashTasks',
          '--kills': 'kills',
          '--triggers': 'triggers',
          '--people-tasks': 'peopleTasks',
          '--seed': 'seed',
          '--time-scale': 'timeScale',
        } as const
      )[arg ?? ''];
      const value = Number(argv[++i]);
      if (key === undefined || !Number.isFinite(value) || value < 0) throw new Error(`bad argument ${arg ?? ''} ${argv[i] ?? ''}`);
      options[key] = value;
    }
  }
  return options;
}

/** The rates the issue asks for. */
const FAULTS: FaultOptions = {
  serverErrorRate: 0.1,
  tooManyRequestsRate: 0.05,
  retryAfterSeconds: 1,
  resetRate: 0.02,
  lostStartResponseRate: 0.01,
};

/** Runner settings in simulated ms. A short lease and settle time let later sweeps retry failed executions soon. */
const SETTINGS = {
  automationTimeoutMs: 8_000,
  claimLeaseMs: 30_000,
  doneSettleMs: 5_000,
  pollIntervalMs: 1_000,
  // Real ms (HTTP timeouts are not scaled); must stay well below the lease in real time (30 s / time scale).
  httpTimeoutMs: 2_000,
};

/**
 * Phase D: A's faults plus what the real epilot does to the runner (the exactly-once issue's list). Simulated ms
 * unless noted. The run list lags well inside startSettleMs (the one assumption: a created run shows up in time).
 */
const PEOPLE_FAULTS: FaultOptions = {
  ...FAULTS,
  lostStartResponseRate: 0.03,
  emptyStartBodyRate: 0.02,
  // Real ms: past the client's HTTP timeout, so the client gives up and the run is created afterwards.
  slowStartRate: 0.03,
  slowStartMs: SETTINGS.httpTimeoutMs + 600,
  runListLagMs: 4_000,
  flowRunsNeedIncludeFlows: true,
  malformedRunInList: true,
  personFinalizesStep: { status: 'COMPLETED', afterMs: 1_500, rate: 0.1 },
  reopenStepAfterFinalPatch: { afterMs: 500, rate: 0.15, times: 1 },
  droppedFinalPatchRate: 0.05,
  staleStepReadMs: 1_500,
};
/** Real ms between two bursts of 401s, and their size (below the HTTP client's three tries with a fresh token). */
const UNAUTHORIZED_BURST_EVERY_MS = 3_000;
const UNAUTHORIZED_BURST_CALLS = 2;

/** One flow per outcome, used round-robin; what each must leave on the step. */
const FLOWS: Array<FlowSeedInput & { outcome: FlowOutcome }> = [
  { id: 'soak-success', name: 'Soak: succeeds', outcome: 'success', pendingMs: 200, durationMs: 1500 },
  { id: 'soak-failed', name: 'Soak: fails', outcome: 'failed', pendingMs: 200, durationMs: 1000 },
  { id: 'soak-skipped', name: 'Soak: skipped', outcome: 'skipped', pendingMs: 200, durationMs: 500 },
  { id: 'soak-cancelled', name: 'Soak: cancelled', outcome: 'cancelled', pendingMs: 200, durationMs: 1000 },
  { id: 'soak-hot', name: 'Soak: hot', outcome: 'hot', pendingMs: 200, durationMs: 1000 },
  { id: 'soak-never', name: 'Soak: never ends', outcome: 'never', pendingMs: 200, durationMs: 1000 },
];
const EXPECTED_STEP_STATUS: Record<FlowOutcome, string> = {
  success: 'COMPLETED',
  failed: 'FAILED',
  skipped: 'SKIPPED',
  cancelled: 'SKIPPED',
  hot: 'FAILED',
  never: 'FAILED',
};
const FINAL_STEP_STATUSES = new Set(['COMPLETED', 'FAILED', 'SKIPPED']);

// ---------------------------------------------------------------------------------------------------------
// Checking the outcome

interface ExpectedTask {
  workflowExecutionId: string;
  taskId: string;
  expectedStatus: string;
}

interface PhaseResult {
  phase: string;
  tasks: number;
  correctStatus: number;
  duplicateStarts: number;
  unpatched: number;
  recordsLeftClaimed: number;
  /** Not in the issue's list, but a second patch is a side effect twice too. */
  duplicatePatches: number;
  /**
   * A person's final status on a step changed by the runner's PATCH afterwards (before any reopen), although the
   * runner had read the step since the person's change.
   */
  humanDecisionsOverwritten: number;
  /**
   * The same, where the runner's last read of the step came before the person's change: the person acted within
   * one request of the runner's write. epilot's PATCH has no condition, so nothing can prevent it (README).
   */
  personRacedAWrite: number;
  /** A PATCH naming a run created in an earlier round of the step than the PATCH's own. */
  earlierRoundRunsAdopted: number;
  faultsInjected: number;
  seconds: number;
  notes: string[];
}

function expectedTasks(seed: SimulatorSeed): ExpectedTask[] {
  const outcomes = new Map(seed.flows.map((flow) => [flow.id, flow.outcome]));
  return seed.workflowExecutions.flatMap((execution) =>
    execution.flow.flatMap((item) => {
      if ('steps' in item || item.executionType !== 'AUTOMATION' || !item.automationConfig) return [];
      const outcome = outcomes.get(item.automationConfig.flowId);
      if (outcome === undefined) return [];
      return [{ workflowExecutionId: execution.id, taskId: item.id, expectedStatus: EXPECTED_STEP_STATUS[outcome] }];
    }),
  );
}

const stepStatus = (simulator: EpilotSimulator, workflowExecutionId: string, taskId: string): string | undefined =>
  simulator.getStep(workflowExecutionId, taskId)?.status;

function evaluate(
  phase: string,
  simulator: EpilotSimulator,
  tasks: ExpectedTask[],
  records: Map<string, TaskRecord>,
  startedAt: number,
  faultsBefore = 0,
): PhaseResult {
  const result: PhaseResult = {
    phase,
    tasks: tasks.length,
    correctStatus: 0,
    duplicateStarts: 0,
    unpatched: 0,
    recordsLeftClaimed: 0,
    duplicatePatches: 0,
    humanDecisionsOverwritten: 0,
    personRacedAWrite: 0,
    earlierRoundRunsAdopted: 0,
    faultsInjected: simulator.traffic.filter((exchange) => exchange.fault !== undefined).length - faultsBefore,
    seconds: Math.round((Date.now() - startedAt) / 100) / 10,
    notes: [],
  };
  const reads = stepReadTimes(simulator);
  for (const task of tasks) {
    const key = taskKey(task.workflowExecutionId, task.taskId);
    const status = stepStatus(simulator, task.workflowExecutionId, task.taskId);
    const verdict = judgeRounds(simulator, task, reads);
    const record = records.get(key);
    if (status === verdict.expectedStatus) result.correctStatus++;
    else result.notes.push(`${key}: step ${status ?? 'missing'}, expected ${verdict.expectedStatus}`);
    if (verdict.mostRunsInARound > 1) {
      result.duplicateStarts++;
      result.notes.push(`${key}: ${verdict.mostRunsInARound} automation runs in one round (${verdict.rounds} rounds)`);
    }
    if (status === undefined || !FINAL_STEP_STATUSES.has(status)) {
      result.unpatched++;
      result.notes.push(`${key}: left ${status ?? 'missing'}; ${evidence(simulator, task, record)}`);
    }
    if (verdict.mostPatchesInARound > 1) {
      result.duplicatePatches++;
      result.notes.push(`${key}: patched ${verdict.mostPatchesInARound} times in one round`);
    }
    if (verdict.humanDecisionsOverwritten > 0) {
      result.humanDecisionsOverwritten++;
      result.notes.push(`${key}: a person's decision overwritten; ${evidence(simulator, task, record)}`);
    }
    if (verdict.personRacedAWrite > 0) {
      result.personRacedAWrite++;
      result.notes.push(`${key}: a person acted within one request of the runner's write`);
    }
    if (verdict.earlierRoundRunsAdopted > 0) {
      result.earlierRoundRunsAdopted++;
      result.notes.push(`${key}: a run of an earlier round named by a patch of a later one`);
    }
    if (record !== undefined && record.status !== 'DONE') {
      result.recordsLeftClaimed++;
      result.notes.push(`${key}: record left ${record.status} (owner ${record.owner})`);
    } else if (record === undefined && status !== undefined && FINAL_STEP_STATUSES.has(status)) {
      result.notes.push(`${key}: patched but no record`);
    }
  }
  return result;
}

/** What happened to the step (who set what, when), its runs, and what the record says: the evidence of a failure. */
function evidence(simulator: EpilotSimulator, task: ExpectedTask, record: TaskRecord | undefined): string {
  const origin = simulator.runsFor(task.workflowExecutionId, task.taskId)[0]?.createdAt ?? 0;
  const history = simulator
    .getStepPatches(task.workflowExecutionId, task.taskId)
    .map((edit) => `${edit.at - origin}ms:${edit.by}:${edit.body.status ?? '-'}:${edit.body.automationConfig?.executionId ?? ''}`);
  const runs = simulator.runsFor(task.workflowExecutionId, task.taskId).map((run) => `${run.id}@${run.createdAt - origin}ms:${run.status}`);
  return `step history ${history.join(' ')}; runs ${runs.join(' ')}; record ${JSON.stringify(record ?? null)}`;
}

/**
 * What the step's history says about one task. Rounds are cut where epilot reopened the step (an edit of its own
 * to an open status); each round may have one run and one result patch. A person's final status stands: the
 * runner's PATCHes after it (before a reopen) overwrite their decision, whatever they set.
 */
function judgeRounds(
  simulator: EpilotSimulator,
  task: ExpectedTask,
  reads: ReadonlyMap<string, readonly number[]>,
): {
  rounds: number;
  expectedStatus: string;
  mostRunsInARound: number;
  mostPatchesInARound: number;
  humanDecisionsOverwritten: number;
  personRacedAWrite: number;
  earlierRoundRunsAdopted: number;
} {
  const history = simulator.getStepPatches(task.workflowExecutionId, task.taskId);
  const runs = simulator.runsFor(task.workflowExecutionId, task.taskId);
  const isFinal = (status: string | undefined) => status !== undefined && FINAL_STEP_STATUSES.has(status);
  const reopens = history.filter((edit) => edit.by === 'epilot' && edit.body.status !== undefined && !isFinal(edit.body.status));
  const roundAt = (at: number) => reopens.filter((reopen) => reopen.at <= at).length;
  const rounds = reopens.length + 1;
  const runsPerRound = new Array<number>(rounds).fill(0);
  const patchesPerRound = new Array<number>(rounds).fill(0);
  for (const run of runs) runsPerRound[roundAt(run.createdAt)] = (runsPerRound[roundAt(run.createdAt)] ?? 0) + 1;
  const runRound = new Map(runs.map((run) => [run.id, roundAt(run.createdAt)]));
  let personSaid: { status: string; at: number } | undefined;
  let humanDecisionsOverwritten = 0;
  let personRacedAWrite = 0;
  let earlierRoundRunsAdopted = 0;
  const stepReads = reads.get(task.workflowExecutionId) ?? [];
  for (const edit of history) {
    const status = edit.body.status;
    if (edit.by === 'epilot') {
      if (status !== undefined) personSaid = isFinal(status) ? { status, at: edit.at } : undefined;
      continue;
    }
    const round = roundAt(edit.at);
    if (isFinal(status)) patchesPerRound[round] = (patchesPerRound[round] ?? 0) + 1;
    if (personSaid !== undefined && status !== undefined && status !== personSaid.status) {
      const lastRead = stepReads.filter((at) => at < edit.at).at(-1);
      if (lastRead !== undefined && lastRead >= personSaid.at) humanDecisionsOverwritten++;
      else personRacedAWrite++;
      // Their decision is gone: later patches of the round do not overwrite it again.
      personSaid = undefined;
    }
    const named = edit.body.automationConfig?.executionId;
    const namedRound = named === undefined ? undefined : runRound.get(named);
    if (namedRound !== undefined && namedRound < round) earlierRoundRunsAdopted++;
  }
  return {
    rounds,
    expectedStatus: personSaid?.status ?? task.expectedStatus,
    mostRunsInARound: Math.max(...runsPerRound),
    mostPatchesInARound: Math.max(...patchesPerRound),
    humanDecisionsOverwritten,
    personRacedAWrite,
    earlierRoundRunsAdopted,
  };
}

/** Arrival times of the answered reads of each workflow execution, oldest first, from the simulator's traffic. */
function stepReadTimes(simulator: EpilotSimulator): Map<string, number[]> {
  const reads = new Map<string, number[]>();
  for (const exchange of simulator.traffic) {
    if (exchange.operation !== 'workflow.getExecution' || exchange.status !== 200) continue;
    const id = decodeURIComponent(exchange.path.split('/').at(-1) ?? '');
    const times = reads.get(id);
    if (times) times.push(exchange.at);
    else reads.set(id, [exchange.at]);
  }
  return reads;
}

// ---------------------------------------------------------------------------------------------------------
// Phases A and B: one simulator, one in-process runner

interface SharedSetup {
  options: SoakOptions;
  token: string;
  clock: Clock;
  clockOrigin: number;
  log: (text: string) => void;
}

async function sweepUntilNoWork(runner: LocalRunner, setup: SharedSetup, label: string, maxRounds = 40): Promise<number> {
  for (let round = 1; round <= maxRounds; round++) {
    // Two sweeps overlapping, as when a scheduled sweep starts while the previous one's executions still run.
    const [first, second] = await Promise.all([runner.sweep(), realDelay(300).then(() => runner.sweep())]);
    const candidates = Math.max(first.sweep?.candidates ?? -1, second.sweep?.candidates ?? -1);
    for (const report of [first, second])
      if (report.sweepStatus !== 'SUCCEEDED') setup.log(`${label}: sweep ${report.sweepStatus}: ${report.sweepError ?? ''}`);
    setup.log(
      `${label}: sweep round ${round}: ${first.sweepStatus}/${second.sweepStatus}, ${first.sweep?.candidates ?? '?'}/${second.sweep?.candidates ?? '?'} candidates, ${first.tasks.length}/${second.tasks.length} executions`,
    );
    if (first.sweepStatus === 'SUCCEEDED' && second.sweepStatus === 'SUCCEEDED' && candidates === 0) return round;
    // Work left whose records are leased (failed executions): wait for the leases to run out.
    if (first.tasks.length === 0 && second.tasks.length === 0) await realDelay(SETTINGS.claimLeaseMs / setup.options.timeScale);
  }
  setup.log(`${label}: gave up after ${maxRounds} sweep rounds`);
  return maxRounds;
}

async function phasesAandB(setup: SharedSetup): Promise<PhaseResult[]> {
  const { options } = setup;
  const seed = generateOrganisation({
    entities: options.tasks * 4,
    automationTasks: options.tasks,
    manualTasks: Math.max(1, Math.round(options.tasks / 20)),
    flows: FLOWS,
  });
  const random = seededRandom(options.seed);
  const simulator = await startEpilotSimulator({ token: setup.token, seed, clock: setup.clock, faults: FAULTS, random });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'soak-ab-'));
  let runner: LocalRunner | undefined;
  const results: PhaseResult[] = [];
  const secret = newWebhookSecret();
  try {
    runner = await LocalRunner.create({
      endpoints: endpointsOf({ epilotApiUrl: simulator.url }),
      token: setup.token,
      settings: runnerSettings(SETTINGS),
      clock: setup.clock,
      timeScale: options.timeScale,
      logger: createLogger({ logLevel: 'SILENT' }),
      stateDir,
      concurrency: 25,
      webhookSecret: secret,
    });

    // A
    const startedA = Date.now();
    const rounds = await sweepUntilNoWork(runner, setup, 'A');
    const tasksA = expectedTasks(seed);
    const faultsA = simulator.traffic.filter((exchange) => exchange.fault !== undefined).length;

    // B: a task of its own, on a fresh entity, triggered 50 times at once.
    const startedB = Date.now();
    const entityId = '00000000-0000-4000-8000-b00000000001';
    simulator.addEntity({ _id: entityId, _schema: 'opportunity', _title: 'Soak: concurrent triggers' });
    simulator.addFlow({ id: 'soak-concurrent', name: 'Soak: slow success', outcome: 'success', pendingMs: 500, durationMs: 4000 });
    const workflowExecutionId = 'soak-concurrent-wf';
    const taskId = 'soak-concurrent-task';
    simulator.addWorkflowExecution({
      id: workflowExecutionId,
      definitionId: 'soakConcurrent',
      name: 'Soak: concurrent triggers',
      entityIds: [entityId],
      flow: [
        { id: taskId, name: 'Run once', executionType: 'AUTOMATION', automationConfig: { flowId: 'soak-concurrent' } },
        { id: `${taskId}-after`, name: 'Review' },
      ],
    });
    const entity = simulator.getEntity(entityId);
    const body = JSON.stringify({ metadata: { automation_name: 'soak' }, entity });
    const activeRunner = runner;
    const triggers = Array.from({ length: options.triggers }, (_unused, i) => {
      if (i % 2 === 0) {
        return activeRunner
          .runTask({ workflowExecutionId, taskId, trigger: 'manual', attempt: i + 1 }, `${workflowExecutionId}-${taskId}-manual-${i + 1}`)
          .then((report) => `execution ${report.status}`);
      }
      return activeRunner
        .receiveWebhook(signedDelivery(body, { secret, id: `msg_soak_${i}` }))
        .then((response) => `webhook ${response.statusCode}`);
    });
    const answers = await Promise.allSettled(triggers);
    await runner.idle();
    const tally = new Map<string, number>();
    for (const answer of answers) {
      const key = answer.status === 'fulfilled' ? answer.value : `rejected: ${String(answer.reason)}`;
      tally.set(key, (tally.get(key) ?? 0) + 1);
    }
    setup.log(`B: ${options.triggers} triggers → ${[...tally].map(([key, count]) => `${count}× ${key}`).join(', ')}`);
    // Whatever a fault may have left (a failed execution), the next sweeps finish.
    await sweepUntilNoWork(runner, setup, 'B');

    await runner.stop();
    runner = undefined;
    const records = await readTaskRecords(stateDir);
    const a = evaluate('A: 500 tasks, faults', simulator, tasksA, records, startedA);
    a.faultsInjected = faultsA;
    a.phase = `A: ${tasksA.length} tasks, faults`;
    a.notes.unshift(`${rounds} sweep rounds`);
    results.push(a);
    const b = evaluate(
      `B: ${options.triggers} concurrent triggers`,
      simulator,
      [{ workflowExecutionId, taskId, expectedStatus: 'COMPLETED' }],
      records,
      startedB,
      faultsA,
    );
    b.notes.unshift(...[...tally].map(([key, count]) => `${count}× ${key}`));
    results.push(b);
    return results;
  } finally {
    await runner?.stop();
    await simulator.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Phase C: a runner process killed with SIGKILL and started again

async function phaseC(setup: SharedSetup): Promise<PhaseResult> {
  const { options } = setup;
  const seed = generateOrganisation({
    entities: options.crashTasks * 4,
    automationTasks: options.crashTasks,
    manualTasks: 5,
    // Longer runs, so kills land while runs are polled, not only around starts.
    flows: FLOWS.map((flow) => ({ ...flow, durationMs: (flow.durationMs ?? 1000) * 3 })),
  });
  const simulator = await startEpilotSimulator({
    token: setup.token,
    seed,
    clock: setup.clock,
    faults: FAULTS,
    random: seededRandom(options.seed + 1),
  });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'soak-c-'));
  const random = seededRandom(options.seed + 2);
  const started = Date.now();
  const config: SoakRunnerConfig = {
    apiUrl: simulator.url,
    stateDir,
    clockOrigin: setup.clockOrigin,
    timeScale: options.timeScale,
    concurrency: 8,
    ...SETTINGS,
    maxSweeps: 60,
  };
  const notes: string[] = [];
  let keepStateDir = false;
  try {
    let kills = 0;
    let finishedEarly = 0;
    for (let life = 1; kills < options.kills; life++) {
      const runnerProcess = startRunnerProcess(config, setup.token);
      const ready = await runnerProcess.ready;
      if (!ready) {
        const { code } = await runnerProcess.exited;
        if (code === 0) {
          finishedEarly++;
          setup.log(`C: life ${life} finished all work before its kill`);
          break;
        }
        throw new Error(`soak runner exited with ${String(code)} before it was ready:\n${runnerProcess.lines.join('\n')}`);
      }
      const delayMs = Math.round(150 + random() * 1850);
      const exitedFirst = await Promise.race([runnerProcess.exited.then(() => true), realDelay(delayMs).then(() => false)]);
      if (exitedFirst) {
        const { code } = await runnerProcess.exited;
        if (code !== 0) throw new Error(`soak runner exited with ${String(code)}:\n${runnerProcess.lines.join('\n')}`);
        finishedEarly++;
        setup.log(`C: life ${life} finished all work before its kill`);
        break;
      }
      await runnerProcess.kill();
      kills++;
      const patched = expectedTasks(seed).filter((task) =>
        FINAL_STEP_STATUSES.has(stepStatus(simulator, task.workflowExecutionId, task.taskId) ?? ''),
      ).length;
      setup.log(
        `C: SIGKILL ${kills}/${options.kills} after ${delayMs} ms; ${patched}/${options.crashTasks} steps final, ${simulator.listAutomationRuns().length} runs`,
      );
    }
    notes.push(`${kills} SIGKILLs`);
    if (finishedEarly) notes.push('the work ran out before all kills');
    const last = startRunnerProcess(config, setup.token);
    let timer: NodeJS.Timeout | undefined;
    const end = await Promise.race([
      last.exited,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 10 * 60_000))),
    ]);
    clearTimeout(timer);
    if (end === undefined) {
      last.child.kill('SIGKILL');
      notes.push('the final runner did not finish within 10 minutes');
    } else if (end.code !== 0) notes.push(`the final runner exited with ${String(end.code)}: ${last.lines.slice(-5).join(' | ')}`);
    else setup.log(`C: final runner finished: ${last.lines.filter((line) => line.includes('"sweep"')).length} sweeps`);
    const records = await readTaskRecords(stateDir);
    const result = evaluate(`C: ${options.crashTasks} tasks, ${kills} SIGKILLs`, simulator, expectedTasks(seed), records, started);
    result.notes.unshift(...notes);
    keepStateDir = !passed([result]);
    if (keepStateDir) result.notes.push(`records kept for inspection in ${stateDir}`);
    return result;
  } finally {
    await simulator.stop();
    if (!keepStateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Phase D: people and a lagging epilot

async function phaseD(setup: SharedSetup): Promise<PhaseResult> {
  const { options } = setup;
  const seed = generateOrganisation({
    entities: options.peopleTasks * 4,
    automationTasks: options.peopleTasks,
    manualTasks: 5,
    flows: FLOWS,
  });
  const simulator = await startEpilotSimulator({
    token: setup.token,
    seed,
    clock: setup.clock,
    faults: PEOPLE_FAULTS,
    random: seededRandom(options.seed + 3),
  });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'soak-d-'));
  let runner: LocalRunner | undefined;
  // A token being rotated: now and then a few calls to any API are refused with 401.
  const bursts = setInterval(
    () => simulator.scriptFault({ operation: '*', times: UNAUTHORIZED_BURST_CALLS, fault: 'unauthorized' }),
    UNAUTHORIZED_BURST_EVERY_MS,
  );
  const started = Date.now();
  try {
    runner = await LocalRunner.create({
      endpoints: endpointsOf({ epilotApiUrl: simulator.url }),
      token: setup.token,
      settings: runnerSettings({ ...SETTINGS, startSettleMs: 60_000 }),
      clock: setup.clock,
      timeScale: options.timeScale,
      logger: createLogger({ logLevel: 'SILENT' }),
      stateDir,
      concurrency: 25,
    });
    const tasks = expectedTasks(seed);
    let rounds = 0;
    // A reopen comes a while after the patch that it follows, and is picked up once doneSettleMs has passed: sweep
    // again until every step is final and no record is open.
    for (let pass = 1; pass <= 3; pass++) {
      rounds += await sweepUntilNoWork(runner, setup, `D${pass}`, pass === 1 ? 15 : 5);
      const reopenMs = PEOPLE_FAULTS.reopenStepAfterFinalPatch?.afterMs ?? 0;
      await realDelay((reopenMs + SETTINGS.doneSettleMs) / options.timeScale + 500);
      const open = tasks.filter((task) => !FINAL_STEP_STATUSES.has(stepStatus(simulator, task.workflowExecutionId, task.taskId) ?? ''));
      const openRecords = (await runner.records.abandoned(Number.MAX_SAFE_INTEGER, 1)).length;
      setup.log(`D: pass ${pass}: ${open.length} steps open, ${openRecords} records open`);
      if (open.length === 0 && openRecords === 0) break;
    }
    clearInterval(bursts);
    await runner.stop();
    runner = undefined;
    const records = await readTaskRecords(stateDir);
    const result = evaluate(`D: ${tasks.length} tasks, people, lag`, simulator, tasks, records, started);
    const reopened = tasks.filter((task) => judgeRounds(simulator, task, new Map()).rounds > 1).length;
    const decidedByPeople = tasks.filter((task) =>
      simulator
        .getStepPatches(task.workflowExecutionId, task.taskId)
        .some((edit) => edit.by === 'epilot' && edit.body.status === 'COMPLETED'),
    ).length;
    result.notes.unshift(`${rounds} sweep rounds`, `${reopened} steps reopened`, `${decidedByPeople} steps finished by a person`);
    return result;
  } finally {
    clearInterval(bursts);
    await runner?.stop();
    await simulator.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Report

function renderTable(results: PhaseResult[]): string {
  const total: PhaseResult = results.reduce(
    (sum, r) => ({
      ...sum,
      tasks: sum.tasks + r.tasks,
      correctStatus: sum.correctStatus + r.correctStatus,
      duplicateStarts: sum.duplicateStarts + r.duplicateStarts,
      unpatched: sum.unpatched + r.unpatched,
      recordsLeftClaimed: sum.recordsLeftClaimed + r.recordsLeftClaimed,
      duplicatePatches: sum.duplicatePatches + r.duplicatePatches,
      humanDecisionsOverwritten: sum.humanDecisionsOverwritten + r.humanDecisionsOverwritten,
      personRacedAWrite: sum.personRacedAWrite + r.personRacedAWrite,
      earlierRoundRunsAdopted: sum.earlierRoundRunsAdopted + r.earlierRoundRunsAdopted,
      faultsInjected: sum.faultsInjected + r.faultsInjected,
      seconds: Math.round((sum.seconds + r.seconds) * 10) / 10,
    }),
    {
      phase: 'total',
      tasks: 0,
      correctStatus: 0,
      duplicateStarts: 0,
      unpatched: 0,
      recordsLeftClaimed: 0,
      duplicatePatches: 0,
      humanDecisionsOverwritten: 0,
      personRacedAWrite: 0,
      earlierRoundRunsAdopted: 0,
      faultsInjected: 0,
      seconds: 0,
      notes: [],
    },
  );
  const header = [
    'phase',
    'tasks',
    'correct final status',
    'duplicate starts',
    'tasks left unpatched',
    'records left claimed',
    'duplicate patches',
    'human decisions overwritten',
    'person raced a write',
    'earlier-round runs adopted',
    'faults injected',
    'seconds',
  ];
  const rows = [...results, total].map((r) => [
    r.phase,
    String(r.tasks),
    String(r.correctStatus),
    String(r.duplicateStarts),
    String(r.unpatched),
    String(r.recordsLeftClaimed),
    String(r.duplicatePatches),
    String(r.humanDecisionsOverwritten),
    String(r.personRacedAWrite),
    String(r.earlierRoundRunsAdopted),
    String(r.faultsInjected),
    String(r.seconds),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join(' | ')} |`;
  return [
    line(header),
    `|${widths.map((width, column) => (column === 0 ? `:${'-'.repeat(width + 1)}` : `${'-'.repeat(width + 1)}:`)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

export function passed(results: PhaseResult[]): boolean {
  return results.every(
    (r) =>
      r.duplicateStarts === 0 &&
      r.unpatched === 0 &&
      r.recordsLeftClaimed === 0 &&
      r.correctStatus === r.tasks &&
      r.duplicatePatches === 0 &&
      r.humanDecisionsOverwritten === 0 &&
      r.earlierRoundRunsAdopted === 0,
  );
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const clockOrigin = Date.now();
  const setup: SharedSetup = {
    options,
    token: randomBytes(16).toString('hex'),
    clock: scaledClock(options.timeScale, clockOrigin),
    clockOrigin,
    log: (text) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`),
  };
  setup.log(
    `soak: ${options.tasks} tasks + ${options.triggers} triggers + ${options.crashTasks} tasks × ${options.kills} SIGKILLs; time ×${options.timeScale}; seed ${options.seed}`,
  );
  const results: PhaseResult[] = [];
  if (/[AB]/.test(options.phases)) results.push(...(await phasesAandB(setup)));
  if (options.phases.includes('C')) results.push(await phaseC(setup));
  if (options.phases.includes('D')) results.push(await phaseD(setup));
  const ok = passed(results);
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({ ok, faults: FAULTS, peopleFaults: PEOPLE_FAULTS, settings: SETTINGS, options, phases: results }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(`\n${renderTable(results)}\n\n`);
    for (const result of results) {
      const shown = result.notes.slice(0, 12);
      if (shown.length)
        process.stdout.write(
          `${result.phase}: ${shown.join('; ')}${result.notes.length > shown.length ? ` … (${result.notes.length - shown.length} more)` : ''}\n`,
        );
    }
    process.stdout.write(
      `\n${ok ? 'PASS' : 'FAIL'}: duplicate starts, tasks left unpatched, records left claimed, duplicate patches, human decisions overwritten and earlier-round runs adopted must all be 0 (and every status right)\n`,
    );
  }
  return ok ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`soak: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(2);
    },
  );
}
