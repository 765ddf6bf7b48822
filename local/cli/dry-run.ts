import { paginateListTables } from '@aws-sdk/client-dynamodb';
import { abandonedTasks } from '../../lambdas/detect-tasks/detect-tasks';
import { decideTask } from '../../lambdas/find-task/find-task';
import type { Clock } from '../../lambdas/shared/clock';
import type { RunnerSettings } from '../../lambdas/shared/config/settings';
import { detectAutomationTasks, type TaskCandidate } from '../../lambdas/shared/domain/detection';
import { taskExecutionName } from '../../lambdas/shared/domain/execution-names';
import { claim, planTaskExecution } from '../../lambdas/shared/domain/task-lifecycle';
import { localOwnerIsGone } from '../runner/local-owner';
import type { ExecutionView, WorkflowEngine } from '../../lambdas/shared/domain/workflow-engine';
import type { EntityApi, SearchCursor } from '../../lambdas/shared/epilot/entity-api';
import type { Logger } from '../../lambdas/shared/logger';
import { type TaskRecord, TaskRecords } from '../../lambdas/shared/records/task-records';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '../emulator/embedded-dynamodb';
import { findByLogicalId } from '../emulator/synthesized-definitions';
import { UsageError } from './options';
import { formatTable } from './report';
import { withStackRetries } from './stack-retry';
import { snapshotStateDir, type StateDirSnapshot } from './state-dir-snapshot';

/** What a sweep would do with one task: start a run, adopt the run already there, patch a known result, or nothing. */
export type DryRunAction = 'start' | 'adopt' | 'patch' | 'leave';

export interface DryRunTask extends TaskCandidate {
  action: DryRunAction;
  /** Whether the sweep would start a task execution for it (every action but `leave`). */
  wouldRun: boolean;
  reason: string;
  /** The run it would adopt, or whose result it would patch. */
  runId?: string;
  flowId?: string;
  /** `record`: an unfinished record the sweep resumes, whether entity search still shows the task or not. */
  foundBy: 'search' | 'record';
}

export interface DryRunPlan {
  dryRun: true;
  stateDir: string | undefined;
  /** `none`: the state dir does not exist or no sweep wrote to it; every task is decided as if never seen. */
  records: 'read' | 'none';
  pages: number;
  entities: number;
  tasks: DryRunTask[];
}

const TERMINAL_WIDTH = 100;

/**
 * What a sweep would do, without doing any of it: the records it would resume, the same search and detection, then
 * for each task the decisions the sweep and the task execution make, in their order and with their code
 * (`planTaskExecution`, Find task's `decideTask`, Claim task's `claim`) on the state dir's records and a fresh read
 * of the workflow. Nothing is started, claimed or patched, and the state dir is read from a copy (see
 * `snapshotStateDir`), so a sweep or serve starting meanwhile is not turned away.
 */
export async function dryRunSweep(
  apis: { entities: EntityApi; workflows: WorkflowEngine },
  settings: RunnerSettings,
  output: { json: boolean; out: NodeJS.WritableStream },
  clock: Clock,
  local: { stateDir: string | undefined; logger: Logger },
): Promise<DryRunPlan> {
  const opened = await openRecords(local.stateDir, clock);
  try {
    const plan = await planSweep(apis, settings, opened?.records, clock, local.logger);
    const result: DryRunPlan = { dryRun: true, stateDir: local.stateDir, records: opened ? 'read' : 'none', ...plan };
    output.out.write(output.json ? `${JSON.stringify(result, null, 2)}\n` : `${renderDryRun(result)}\n`);
    return result;
  } finally {
    await opened?.close();
  }
}

async function planSweep(
  apis: { entities: EntityApi; workflows: WorkflowEngine },
  settings: RunnerSettings,
  records: TaskRecords | undefined,
  clock: Clock,
  logger: Logger,
): Promise<Pick<DryRunPlan, 'pages' | 'entities' | 'tasks'>> {
  const tasks: DryRunTask[] = [];
  const decided = new Set<string>();
  const consider = async (candidate: TaskCandidate, foundBy: DryRunTask['foundBy']) => {
    const key = `${candidate.workflowExecutionId}/${candidate.taskId}`;
    // The sweep's second start of a task it started already this sweep finds that execution's name taken.
    if (decided.has(key)) return;
    decided.add(key);
    const record = await records?.get(candidate);
    // Every call retried as the deployed states retry it: one 5xx must not end a dry run that a sweep would survive.
    const load = () => withStackRetries(clock, () => apis.workflows.loadTask(candidate.workflowExecutionId, candidate.taskId));
    tasks.push({ ...candidate, foundBy, ...(await decide(candidate, record, load, settings, clock)) });
  };

  // As the sweep's first page: the records dead executions left unfinished, before (and whatever) the search finds.
  if (records) {
    for (const { record: _record, ...candidate } of await abandonedTasks({ records, clock, logger })) await consider(candidate, 'record');
  }
  let cursor: SearchCursor | undefined;
  let entities = 0;
  let pages = 0;
  do {
    const after = cursor;
    const seen = entities;
    const page = await withStackRetries(clock, () =>
      apis.entities.searchPage({ q: settings.searchQuery, size: settings.searchPageSize, after, seen }),
    );
    pages += 1;
    entities += page.entities.length;
    cursor = page.next;
    for (const candidate of page.entities.flatMap(detectAutomationTasks)) await consider(candidate, 'search');
  } while (cursor !== undefined);
  return { pages, entities, tasks };
}

type Decision = Omit<DryRunTask, keyof TaskCandidate | 'foundBy'>;

/**
 * One task, decided as the sweep and then its task execution would: first on the record alone (a live claim, a
 * task finished moments ago), then on the workflow read fresh, then on the record and the step together.
 */
async function decide(
  candidate: TaskCandidate,
  stored: TaskRecord | undefined,
  loadTask: () => Promise<ExecutionView>,
  settings: RunnerSettings,
  clock: Clock,
): Promise<Decision> {
  // A sweep's runner ends the leases of records whose local process is gone before it sweeps (local-runner.ts).
  const record = stored && stored.status !== 'DONE' && localOwnerIsGone(stored.owner) ? { ...stored, leaseUntil: clock.now() } : stored;
  const plan = planTaskExecution(record, clock.now(), settings.doneSettleMs);
  if (plan.kind === 'done' && record) {
    const finishedAt = record.finishedAt ?? record.updatedAt;
    return leave(`finished at ${iso(finishedAt)}; a sweep leaves it alone for --done-settle-ms (${settings.doneSettleMs})`);
  }
  if (plan.kind === 'running' && record) {
    return leave(`claimed by execution ${plan.owner}, alive until ${iso(record.leaseUntil)}: it finishes the task`);
  }

  const execution = await loadTask();
  const now = clock.now();
  const found = decideTask({ ...candidate, trigger: 'sweep', attempt: plan.attempt, execution });
  if (found.action === 'skip') return leave(skipReason(found.reason, record, execution));

  const claimed = claim({
    record,
    now,
    // The name the sweep would give the execution; a record whose plan is `start` is held by no live one.
    owner: taskExecutionName(candidate.workflowExecutionId, candidate.taskId, plan.attempt),
    attempt: plan.attempt,
    workflowExecutionId: candidate.workflowExecutionId,
    taskId: candidate.taskId,
    flowId: found.flowId,
    entityId: found.entityId,
    stepRunId: execution.task?.runId,
    stepStatusChangedAt: execution.task?.statusChangedAt,
    leases: settings,
  });
  if (claimed.kind === 'skip') return leave(claimed.reason);
  const flowId = found.flowId;
  const runId = claimed.runId;
  if (claimed.next === 'adopt' && runId !== undefined) {
    return {
      action: 'adopt',
      wouldRun: true,
      runId,
      flowId,
      reason: claimed.runFromStep
        ? `the step names run ${runId} (automationConfig.executionId): follows it instead of starting another, ` +
          'unless that run ended before the step was reopened'
        : `the record names run ${runId}: follows it to its end instead of starting another`,
    };
  }
  if (claimed.next === 'patch') {
    const status = claimed.result?.stepStatus ?? 'its result';
    return {
      action: 'patch',
      wouldRun: true,
      ...(runId === undefined ? {} : { runId }),
      flowId,
      reason:
        record?.status === 'DONE'
          ? `patched ${status} at ${iso(record.patchedAt ?? record.updatedAt)} yet the step is open with no change since: ` +
            'the patch did not stick; patches the same result again, never runs again'
          : `the record has the result (${status}) but the step is still open: patches it, never runs again`,
    };
  }
  return { action: 'start', wouldRun: true, flowId, reason: startReason(flowId, record, claimed.record.round, settings) };
}

function startReason(flowId: string, record: TaskRecord | undefined, round: number, settings: RunnerSettings): string {
  const start = `starts flow ${flowId}`;
  if (record === undefined) return `${start}: no record and no run on the step`;
  if (round > record.round) return `${start} for round ${round}: the task was reopened since this runner finished it`;
  if (record.startAttemptedAt !== undefined) {
    return (
      `an earlier start at ${iso(record.startAttemptedAt)} got no answer: looks for its run first and ${start} only ` +
      `if none shows up within --start-settle-ms (${settings.startSettleMs})`
    );
  }
  return `${start}: ${record.owner} claimed the task and ended before it started a run`;
}

/** Find task's reason, with what the record adds: whose decision a final step is, and a record left open. */
function skipReason(reason: string, record: TaskRecord | undefined, execution: ExecutionView): string {
  const stepStatus = execution.task?.status;
  const ours = record?.status === 'DONE' && record.patchedAt !== undefined && record.stepStatus === stepStatus;
  const final = reason.startsWith('step already final');
  const why =
    final && !ours ? `${reason}: someone else finalized it` : ours ? `done: this runner patched the step ${stepStatus ?? ''}` : reason;
  // Claim task closes what a dead execution left open when the task needs nothing more (the plan says none is alive).
  return record !== undefined && record.status !== 'DONE' ? `${why}; closes the record left ${record.status}` : why;
}

function leave(reason: string): Decision {
  return { action: 'leave', wouldRun: false, reason };
}

function iso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

/** The table of a dry run, fitting a 100-column terminal, and what it was decided on. */
function renderDryRun(plan: DryRunPlan): string {
  const rows = plan.tasks.map((task) => [
    task.workflowExecutionId,
    task.taskId,
    task.action === 'leave' ? 'leave alone' : task.action,
    task.foundBy === 'record' ? `${task.reason} (found by its record)` : task.reason,
  ]);
  const count = (action: DryRunAction) => plan.tasks.filter((task) => task.action === action).length;
  const records =
    plan.records === 'read'
      ? `records read from ${plan.stateDir ?? ''}`
      : `no records (${plan.stateDir ?? 'no --state-dir'}: no sweep ran there)`;
  return [
    rows.length > 0 ? formatTable(['workflow', 'task', 'would', 'why'], rows, TERMINAL_WIDTH) : 'No automation tasks found.',
    `${count('start')} to start, ${count('adopt')} to adopt, ${count('patch')} to patch, ${count('leave')} left alone; ` +
      `${plan.entities} entities in ${plan.pages} page(s)`,
    `${records}.`,
    'Dry run: nothing was started, claimed or patched.',
  ].join('\n');
}

/**
 * The task records of `stateDir`, read from a private copy; undefined when there are none to read (no such folder,
 * or no sweep created the table there).
 */
async function openRecords(
  stateDir: string | undefined,
  clock: Clock,
): Promise<{ records: TaskRecords; close(): Promise<void> } | undefined> {
  if (stateDir === undefined) return undefined;
  const snapshot: StateDirSnapshot | undefined = snapshotStateDir(stateDir);
  if (!snapshot) return undefined;
  let dynamo: EmbeddedDynamoDb | undefined;
  const close = async () => {
    await dynamo?.stop();
    snapshot.remove();
  };
  try {
    try {
      dynamo = await startEmbeddedDynamoDb({ path: snapshot.directory });
    } catch (error) {
      // What is wrong with the copy is wrong with the folder it was copied from: said of the folder the user named.
      const problem = (error instanceof Error ? error.message : String(error)).split(snapshot.directory).join(stateDir);
      throw new UsageError(`--state-dir ${stateDir}: its records cannot be read (${problem})`, { cause: error });
    }
    const names: string[] = [];
    for await (const page of paginateListTables({ client: dynamo.client }, {})) names.push(...(page.TableNames ?? []));
    // The runner names its tables by logical id; found as it finds them (`tableName('TaskRecords')`).
    const table =
      names.length === 0
        ? undefined
        : findByLogicalId(
            names.map((name) => ({ logicalId: name, name })),
            'TaskRecords',
            'table',
          );
    if (!table) {
      await close();
      return undefined;
    }
    return { records: new TaskRecords(dynamo.client, table.name, clock), close };
  } catch (error) {
    await close();
    throw error;
  }
}
