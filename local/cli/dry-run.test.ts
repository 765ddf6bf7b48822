import { registerLocalRunner } from '../runner/local-owner';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { systemClock } from '../../lambdas/shared/clock';
import { endpointsOf, runnerSettings } from '../../lambdas/shared/config/settings';
import { EntityApi } from '../../lambdas/shared/epilot/entity-api';
import { EpilotHttp } from '../../lambdas/shared/epilot/http';
import { WorkflowsV1Engine } from '../../lambdas/shared/epilot/workflows-v1';
import { createLogger } from '../../lambdas/shared/logger';
import type { TaskRecordFields } from '../../lambdas/shared/records/task-records';
import { type EpilotSimulator, startEpilotSimulator } from '../../simulator/epilot-simulator';
import { DEMO_SEED, singleTaskWorkflow } from '../../test/support/local-pipeline';
import { LocalRunner } from '../runner/local-runner';
import { main } from './cli';
import { type DryRunPlan, type DryRunTask, dryRunSweep } from './dry-run';
import { UsageError } from './options';

const TOKEN = 'dry-run-token';
const logger = createLogger({ logLevel: 'SILENT' });
const settings = runnerSettings();

let simulator: EpilotSimulator;
let root: string;
let stateDir: string;

/** A runner on `dir` as `sweep` opens it: the state dir's table exists, and records are written through its store. */
function openRunner(dir: string): Promise<LocalRunner> {
  return LocalRunner.create({
    endpoints: endpointsOf({ epilotApiUrl: simulator.url }),
    token: TOKEN,
    settings,
    clock: systemClock,
    logger,
    stateDir: dir,
    concurrency: 1,
  });
}

/** A record as an execution of the task state machine would have left it (no epilot call made for it). */
function record(workflowExecutionId: string, taskId: string, fields: Partial<TaskRecordFields>): TaskRecordFields {
  const now = Date.now();
  return {
    workflowExecutionId,
    taskId,
    status: 'CLAIMED',
    owner: `${workflowExecutionId}-${taskId}-1`,
    leaseUntil: now - 60_000,
    attempt: 1,
    round: 1,
    flowId: 'flow-send-offer',
    entityId: DEMO_SEED.entities[0]?._id ?? '',
    createdAt: now - 600_000,
    ...fields,
  };
}

async function dryRun(dir: string | undefined, json = true, planSettings = settings): Promise<{ plan: DryRunPlan; text: string }> {
  const http = new EpilotHttp({
    endpoints: endpointsOf({ epilotApiUrl: simulator.url }),
    token: async () => TOKEN,
    timeoutMs: 5000,
    clock: systemClock,
  });
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const plan = await dryRunSweep(
    { entities: new EntityApi(http), workflows: new WorkflowsV1Engine(http) },
    planSettings,
    { json, out },
    systemClock,
    { stateDir: dir, logger },
  );
  return { plan, text };
}

const byTask = (plan: DryRunPlan): Record<string, DryRunTask> => Object.fromEntries(plan.tasks.map((task) => [task.taskId, task]));

/** Every file's name, size and modification time: what a dry run must leave exactly as it found it. */
function filesOf(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .sort()
    .map((name) => {
      const stat = fs.statSync(path.join(dir, name));
      return `${name} ${stat.size} ${stat.mtimeMs}`;
    });
}

beforeAll(async () => {
  simulator = await startEpilotSimulator({ token: TOKEN, seed: DEMO_SEED });
  const onStep = singleTaskWorkflow('wf-adopt-step', 'adopt-step-task');
  const [first, ...rest] = onStep.flow;
  simulator.addWorkflowExecution({
    ...onStep,
    flow: [
      { ...first, id: 'adopt-step-task', name: 'Send offer', automationConfig: { flowId: 'flow-send-offer', executionId: 'run-on-step' } },
      ...rest,
    ],
  });
  for (const id of ['fresh', 'adopt-record', 'patch', 'not-stuck', 'busy', 'gone', 'done', 'elsewhere']) {
    simulator.addWorkflowExecution(singleTaskWorkflow(`wf-${id}`, `${id}-task`));
  }
  // A person completed this step in epilot while the runner's execution of it was away.
  simulator.editStep('wf-elsewhere', 'elsewhere-task', { status: 'COMPLETED' });

  root = fs.mkdtempSync(path.join(os.tmpdir(), 'dry-run-test-'));
  stateDir = path.join(root, 'state');
  const runner = await openRunner(stateDir);
  try {
    const now = Date.now();
    const write = (fields: TaskRecordFields) => runner.records.replace(undefined, fields);
    await write(
      record('wf-adopt-record', 'adopt-record-task', { status: 'STARTED', automationExecutionId: 'run-recorded', startedAt: now - 60_000 }),
    );
    await write(
      record('wf-patch', 'patch-task', {
        status: 'PATCHING',
        automationExecutionId: 'run-patched',
        automationStatus: 'success',
        stepStatus: 'COMPLETED',
        reason: 'automation succeeded',
        resultRecordedAt: now,
      }),
    );
    await write(record('wf-busy', 'busy-task', { owner: 'a-live-execution', leaseUntil: now + 600_000 }));
    // Claimed by a local runner that has stopped (as after Ctrl-C): a sweep takes it over at once.
    const gone = registerLocalRunner();
    gone.end();
    await write(record('wf-gone', 'gone-task', { owner: gone.owner('wf-gone-gone-task-1'), leaseUntil: now + 600_000 }));
    await write(
      record('wf-done', 'done-task', {
        status: 'DONE',
        automationExecutionId: 'run-done',
        stepStatus: 'COMPLETED',
        leaseUntil: now,
        patchedAt: now,
        finishedAt: now,
      }),
    );
    // Patched and closed, yet the step shows no change since: the patch was lost (or this read predates it).
    await write(
      record('wf-not-stuck', 'not-stuck-task', {
        status: 'DONE',
        automationExecutionId: 'run-not-stuck',
        automationStatus: 'success',
        stepStatus: 'COMPLETED',
        reason: 'automation succeeded',
        leaseUntil: now,
        patchedAt: now,
        finishedAt: now,
      }),
    );
    await write(record('wf-elsewhere', 'elsewhere-task', { status: 'STARTED', automationExecutionId: 'run-elsewhere' }));
  } finally {
    await runner.stop();
  }
});

afterAll(async () => {
  await simulator.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('sweep --dry-run', () => {
  it('decides each task on the state dir’s records: start (a gone local claim too), adopt (record or step run), patch, leave alone, with why', async () => {
    const tasks = byTask((await dryRun(stateDir)).plan);

    expect(tasks['fresh-task']).toMatchObject({
      action: 'start',
      wouldRun: true,
      reason: 'starts flow flow-send-offer: no record and no run on the step',
    });
    expect(tasks['adopt-record-task']).toMatchObject({ action: 'adopt', runId: 'run-recorded', foundBy: 'record' });
    expect(tasks['adopt-record-task']?.reason).toMatch(/^the record names run run-recorded/);
    expect(tasks['adopt-step-task']).toMatchObject({ action: 'adopt', runId: 'run-on-step', foundBy: 'search' });
    expect(tasks['adopt-step-task']?.reason).toMatch(/^the step names run run-on-step \(automationConfig\.executionId\)/);
    expect(tasks['patch-task']).toMatchObject({ action: 'patch', runId: 'run-patched' });
    expect(tasks['patch-task']?.reason).toBe(
      'the record has the result (COMPLETED) but the step is still open: patches it, never runs again',
    );
    expect(tasks['busy-task']).toMatchObject({ action: 'leave', wouldRun: false });
    expect(tasks['busy-task']?.reason).toMatch(/^claimed by execution a-live-execution, alive until \d{4}-/);
    expect(tasks['gone-task']).toMatchObject({ action: 'start', wouldRun: true });
    expect(tasks['done-task']).toMatchObject({ action: 'leave', wouldRun: false });
    expect(tasks['done-task']?.reason).toMatch(/^finished at .+; a sweep leaves it alone for --done-settle-ms \(600000\)$/);
    expect(tasks['elsewhere-task']).toMatchObject({
      action: 'leave',
      foundBy: 'record',
      reason: 'step already final (COMPLETED): someone else finalized it; closes the record left STARTED',
    });
  });

  it('patches again a task whose record says patched and closed while its step is still open with no change since', async () => {
    // With no settle window, a sweep looks at a task it finished moments ago at once (as after --done-settle-ms).
    const tasks = byTask((await dryRun(stateDir, true, runnerSettings({ doneSettleMs: 0 }))).plan);

    expect(tasks['not-stuck-task']).toMatchObject({ action: 'patch', runId: 'run-not-stuck', wouldRun: true });
    expect(tasks['not-stuck-task']?.reason).toMatch(
      /^patched COMPLETED at .+ yet the step is open with no change since: the patch did not stick; patches the same result again, never runs again$/,
    );
  });

  it('starts, claims and patches nothing, and leaves every file of the state dir (and no lock) as it was', async () => {
    const before = filesOf(stateDir);
    simulator.resetCallCounts();

    await dryRun(stateDir);

    expect(simulator.callCounts()['automation.startExecution'] ?? 0).toBe(0);
    expect(simulator.callCounts()['workflow.updateStep'] ?? 0).toBe(0);
    expect(filesOf(stateDir)).toEqual(before);
    expect(before.some((file) => file.startsWith('embedded-dynamodb.lock'))).toBe(false);
  });

  it('prints a table no wider than 100 columns saying start, adopt, patch or leave alone for each task', async () => {
    const { text } = await dryRun(stateDir, false);

    const lines = text.trimEnd().split('\n');
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(100);
    expect(lines[0]).toMatch(/^workflow +task +would +why$/);
    for (const action of ['start', 'adopt', 'patch', 'leave alone']) expect(text).toMatch(new RegExp(`  ${action}  `));
    expect(lines.slice(-2)).toEqual([`records read from ${stateDir}.`, 'Dry run: nothing was started, claimed or patched.']);
  });

  it('refuses in one UsageError line naming --state-dir and the pid while a runner has the state dir open, which goes on working', async () => {
    const runner = await openRunner(stateDir);
    try {
      const refused = dryRun(stateDir);
      await expect(refused).rejects.toThrow(UsageError);
      await expect(refused).rejects.toThrow(
        `--state-dir ${stateDir} is in use by pid ${process.pid} (a sweep or serve): a dry run reads the records only while no ` +
          'process has them open, and never takes them from one; run it again when that one ends',
      );
      expect((await runner.records.get({ workflowExecutionId: 'wf-busy', taskId: 'busy-task' }))?.owner).toBe('a-live-execution');
    } finally {
      await runner.stop();
    }
  });

  it('decides as if no task was ever seen when the state dir does not exist, and does not create it', async () => {
    const missing = path.join(root, 'never-swept');

    const { plan } = await dryRun(missing);

    expect(plan.records).toBe('none');
    expect(byTask(plan)['busy-task']).toMatchObject({ action: 'start' });
    expect(fs.existsSync(missing)).toBe(false);
  });
});

describe('epilot-task-runner sweep --dry-run', () => {
  afterEach(() => jest.restoreAllMocks());

  it('reads the records of --state-dir, with the API URL from --config, and prints one JSON document', async () => {
    const config = path.join(root, 'settings.json');
    fs.writeFileSync(config, JSON.stringify({ epilotApiUrl: simulator.url }));
    let stdout = '';
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      stdout += String(chunk);
      return true;
    });

    const code = await main([
      'node',
      'epilot-task-runner',
      'sweep',
      '--dry-run',
      '--json',
      '--config',
      config,
      '--token',
      TOKEN,
      '--state-dir',
      stateDir,
    ]);

    expect(code).toBe(0);
    const plan = JSON.parse(stdout) as DryRunPlan;
    expect(plan).toMatchObject({ dryRun: true, records: 'read', stateDir });
    expect(byTask(plan)['busy-task']).toMatchObject({ action: 'leave' });
  });
});
