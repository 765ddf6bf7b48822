import * as z from 'zod';
import { detectAutomationTasks, type TaskCandidate } from '../shared/domain/detection';
import { describeError } from '../shared/errors';
import type { RunnerDeps } from '../shared/runtime/runner-deps';
import { parseStateInput } from '../shared/domain/task-state';
import { type StartedTask, startTaskExecution } from '../shared/domain/task-starter';
import { eachBounded } from '../shared/runtime/bounded';
import { noteResume } from '../shared/domain/task-lifecycle';
import { RecordConflictError } from '../shared/errors';
import type { TaskRecord } from '../shared/records/task-records';

/**
 * The sweep's state data: a cursor and counters, never the candidates themselves, so a sweep over any number of
 * entities stays far below the 256 KB limit. Each page is searched, detected and started in one invocation.
 */
export const sweepStateSchema = z.looseObject({
  page: z.number().int().nonnegative().default(0),
  cursor: z.array(z.union([z.string(), z.number(), z.null()])).optional(),
  seen: z.number().int().nonnegative().default(0),
  done: z.boolean().default(false),
  candidates: z.number().int().nonnegative().default(0),
  started: z.number().int().nonnegative().default(0),
  alreadyRunning: z.number().int().nonnegative().default(0),
  recentlyDone: z.number().int().nonnegative().default(0),
  failedToStart: z.number().int().nonnegative().default(0),
  /** Tasks whose execution died, found through their records rather than through entity search. */
  resumed: z.number().int().nonnegative().default(0),
});
export type SweepState = z.output<typeof sweepStateSchema>;

const sweepEventSchema = z.object({ state: sweepStateSchema.optional(), execution: z.string().min(1) });

/**
 * Task executions a page starts at once: each start is a record read and a StartExecution call (whose throttling
 * the SDK retries), so ten keep a page of 1,000 to a few seconds, within Step Functions' StartExecution rate.
 */
const START_CONCURRENCY = 10;

type DetectDeps = Pick<RunnerDeps, 'entities' | 'records' | 'starter' | 'clock' | 'settings' | 'logger'>;

async function detectTasksPage(state: SweepState, deps: DetectDeps): Promise<SweepState & { startedTasks: StartedTask[] }> {
  // The first page also resumes what dead executions left behind: entity search may no longer show such a task
  // (its workflow moved on, or a person finished the step), but its record still waits to be finished or closed.
  // This runs before the search and needs none of it, so an entity search outage does not stop resuming.
  const resumed = state.page === 0 ? await abandonedTasks(deps) : [];
  const startedTasks: StartedTask[] = [];
  let failedToStart = 0;
  const start = async (candidates: Array<TaskCandidate & { record?: TaskRecord }>) => {
    // One after another, a page of 1,000 candidates took 20–40 s on AWS, near the Lambda's timeout.
    const outcomes = await eachBounded(candidates, START_CONCURRENCY, async ({ record, ...candidate }) => {
      try {
        const started = await startTaskExecution(candidate, 'sweep', { ...deps, doneSettleMs: deps.settings.doneSettleMs });
        if (record !== undefined && started.outcome === 'started') await backOff(record, deps);
        return started;
      } catch (error) {
        // One task that cannot be started must not stop the sweep; the next sweep tries it again.
        failedToStart += 1;
        deps.logger.error('Could not start a task execution', {
          workflowExecutionId: candidate.workflowExecutionId,
          taskId: candidate.taskId,
          error: describeError(error),
        });
        return undefined;
      }
    });
    startedTasks.push(...outcomes.filter((started) => started !== undefined));
  };
  await start(resumed);
  let page: Awaited<ReturnType<DetectDeps['entities']['searchPage']>>;
  try {
    page = await deps.entities.searchPage({
      q: deps.settings.searchQuery,
      size: deps.settings.searchPageSize,
      after: state.cursor,
      seen: state.seen,
    });
  } catch (error) {
    // The sweep fails (its alarm and retry), but what was resumed before the search stays resumed and is logged.
    if (resumed.length > 0) {
      deps.logger.error('Entity search failed after resuming abandoned tasks', {
        resumed: resumed.length,
        started: startedTasks.length,
        failedToStart,
        error: describeError(error),
      });
    }
    throw error;
  }
  const detected = page.entities.flatMap(detectAutomationTasks);
  await start(detected);
  const candidates = [...resumed, ...detected];
  const count = (outcome: StartedTask['outcome']) => startedTasks.filter((task) => task.outcome === outcome).length;
  const next: SweepState = {
    page: state.page + 1,
    ...(page.next ? { cursor: page.next } : {}),
    seen: state.seen + page.entities.length,
    done: page.next === undefined,
    candidates: state.candidates + candidates.length,
    started: state.started + count('started'),
    alreadyRunning: state.alreadyRunning + count('already-running'),
    recentlyDone: state.recentlyDone + count('recently-done'),
    failedToStart: state.failedToStart + failedToStart,
    resumed: state.resumed + resumed.length,
  };
  deps.logger.info('Swept a page of entities', { ...next, cursor: undefined, entities: page.entities.length });
  return { ...next, startedTasks };
}

/** How many abandoned records one sweep resumes; the rest wait for the next sweep. */
const RESUME_LIMIT = 100;

/** Records a dead execution left unfinished, as tasks to start again (also what `sweep --dry-run` reports). */
export async function abandonedTasks(
  deps: Pick<DetectDeps, 'records' | 'clock' | 'logger'>,
): Promise<Array<TaskCandidate & { record: TaskRecord }>> {
  const records = await deps.records.abandoned(deps.clock.now(), RESUME_LIMIT, (key, problem) => {
    deps.logger.error('Skipped an unreadable task record; it is not resumed until fixed', { ...key, problem });
  });
  return records.flatMap((record) =>
    record.entityId ? [{ workflowExecutionId: record.workflowExecutionId, taskId: record.taskId, entityId: record.entityId, record }] : [],
  );
}

/** After a resume started: the record backs off, unless its new execution has written it already (then it is alive). */
async function backOff(record: TaskRecord, deps: Pick<DetectDeps, 'records' | 'clock' | 'logger'>): Promise<void> {
  try {
    await deps.records.replace(record, noteResume(record, deps.clock.now()));
  } catch (error) {
    // The execution is started either way; without the note the record is only tried again sooner.
    if (!(error instanceof RecordConflictError)) {
      deps.logger.error('Could not note the resume of a record', { taskId: record.taskId, error: describeError(error) });
      return;
    }
    deps.logger.debug('Resumed record changed meanwhile; no backoff noted', {
      workflowExecutionId: record.workflowExecutionId,
      taskId: record.taskId,
    });
  }
}

export const createDetectTasksHandler = (deps: DetectDeps) => async (event: unknown) => {
  const { state } = parseStateInput(sweepEventSchema, event);
  const { startedTasks: _details, ...next } = await detectTasksPage(state ?? sweepStateSchema.parse({}), deps);
  return next;
};
