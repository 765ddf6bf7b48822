import type { RunnerDeps } from '../runtime/runner-deps';
import type { RunnerSettings } from '../config/settings';
import type { TaskRecord, TaskRecordFields } from '../records/task-records';
import { recordedResult } from './task-result';
import type { TaskResult } from './task-state';
import type { PatchAnswer } from './workflow-engine';

/**
 * Everything that can happen to a task's record, as pure "next record" functions of the record read and `now`:
 *
 *   (none) → claim → CLAIMED → noteStartAttempt → recordRun → STARTED(run id) → recordResult → PATCHING → close → DONE
 *
 * (claim may also adopt a run straight into STARTED, or resume a PATCHING record.) The handlers read, call one of
 * these, and write conditionally on the version they read; a lost race means reading and deciding again. Every
 * lease and deadline is computed here, so how long a record is held is decided in one place.
 */

export type Leases = Pick<RunnerSettings, 'claimLeaseMs' | 'automationTimeoutMs'>;

/** While an execution works between two writes, without a run it could wait for. */
function claimLease(now: number, leases: Leases): number {
  return now + leases.claimLeaseMs;
}

function runDeadline(now: number, leases: Leases): number {
  return now + leases.automationTimeoutMs;
}

/** Past the deadline, so polling, cancelling and patching fit in the lease; never shorter than a claim lease. */
function runLease(deadline: number, now: number, leases: Leases): number {
  return Math.max(deadline, now) + leases.claimLeaseMs;
}

/** A lease is live until `leaseUntil`; a DONE record's lease means nothing. */
function leaseIsLive(record: TaskRecord, now: number): boolean {
  return record.leaseUntil > now;
}

/** Whether another execution holds the record and may still be at work on it: then it is theirs to finish. */
export function heldByAnotherExecution(record: TaskRecord, execution: string, now: number): boolean {
  return record.owner !== execution && leaseIsLive(record, now);
}

/**
 * How much later than this runner's last word on a round (its patch, or its decision) the step's status must have
 * changed to count as a change by someone else: epilot stamps the change with its clock, the runner with its own
 * (both NTP-synced on AWS), and the runner's own patch is stamped before its answer arrives.
 */
export const ROUND_SKEW_MS = 2_000;

/** Earlier rounds' runs kept in a record; a task looping more often than this is not expected. */
const EARLIER_RUNS_KEPT = 10;

export interface ClaimRequest {
  record: TaskRecord | undefined;
  now: number;
  /** The execution claiming the record. */
  owner: string;
  attempt: number | undefined;
  workflowExecutionId: string;
  taskId: string;
  flowId: string;
  entityId: string;
  /** The run epilot itself shows on the step, if any. */
  stepRunId: string | undefined;
  /** When the step's status last changed (epoch ms), if epilot says: the evidence of a new round. */
  stepStatusChangedAt: number | undefined;
  leases: Leases;
}

export type ClaimDecision =
  | { kind: 'skip'; reason: string }
  | {
      kind: 'claim';
      next: 'start' | 'adopt' | 'patch';
      record: TaskRecordFields;
      runId?: string | undefined;
      /** The run to adopt comes from what the step shows, not from this runner's record: Start automation checks it. */
      runFromStep?: boolean | undefined;
      deadline?: number | undefined;
      result?: TaskResult | undefined;
    };

/**
 * Decides what an execution does with the record it read, for a step Find task found open. Rounds are told apart
 * by the step's status change, not by run ids: a DONE record starts a new round only when the step's status changed
 * after this runner's last round ended; without that evidence, an open step means the patch did not stick (or the
 * read is stale) and the recorded result is patched again, never run again.
 */
export function claim(request: ClaimRequest): ClaimDecision {
  const { record, now, owner, leases } = request;
  if (record === undefined) return freshClaim(request, 1, request.attempt ?? 1);

  if (record.status === 'DONE') return claimDone(request, record);

  if (heldByAnotherExecution(record, owner, now)) {
    return {
      kind: 'skip',
      reason: `busy: ${record.owner} holds this task until ${new Date(record.leaseUntil).toISOString()}`,
    };
  }

  // Ours already (a retried Claim), or left behind by an execution whose lease ran out: carry on from the record.
  const base: TaskRecordFields = {
    ...pastItsClaim(record),
    owner,
    attempt: Math.max(request.attempt ?? record.attempt, record.attempt),
  };
  const result = recordedResult(record);
  if (result !== undefined) {
    // The result was decided, and the step's status changed since, to an open one: the patch landed and epilot
    // reopened the task before the record was closed. That round is over; patching it again would undo the reopen.
    if (changedSince(request, record.resultRecordedAt)) return newRound(request, record);
    return {
      kind: 'claim',
      next: 'patch',
      record: { ...base, leaseUntil: claimLease(now, leases) },
      runId: record.automationExecutionId,
      result,
    };
  }
  const stepRun = request.stepRunId !== undefined && !isEarlierRoundRun(record, request.stepRunId) ? request.stepRunId : undefined;
  const runId = record.automationExecutionId ?? stepRun;
  if (runId !== undefined) {
    const deadline = record.deadline ?? runDeadline(now, leases);
    return {
      kind: 'claim',
      next: 'adopt',
      runId,
      ...(record.automationExecutionId === undefined ? { runFromStep: true } : {}),
      deadline,
      record: { ...base, status: 'STARTED', automationExecutionId: runId, deadline, leaseUntil: runLease(deadline, now, leases) },
    };
  }
  return { kind: 'claim', next: 'start', record: { ...base, status: 'CLAIMED', leaseUntil: claimLease(now, leases) } };
}

/**
 * Whether the step's status changed after epilot's stamp of the status the round ended with (this runner's patch,
 * or someone else's decision): both times on epilot's clock, so no margin, and a loop or a person reopening the step
 * a moment later is a new round. A read that still shows the step as before the patch (stale, or the patch was
 * dropped) shows an older stamp. Undefined without both.
 */
function reopenedSincePatch(request: ClaimRequest, record: TaskRecord): boolean | undefined {
  if (record.stepStatusStampedAt === undefined || request.stepStatusChangedAt === undefined) return undefined;
  return request.stepStatusChangedAt > record.stepStatusStampedAt;
}

/**
 * An execution that claims the record got past its claim: the resume backoff (noteResume) is for executions that
 * fail before it, so it starts over. Kept, a record resumed after each of many crashes would wait hours.
 */
function pastItsClaim(record: TaskRecord): TaskRecord {
  const { resumeCount: _count, resumeAfter: _after, ...rest } = record;
  return rest;
}

/** Whether the step's status changed later than `since` (plus the skew margin). No evidence is no change. */
function changedSince(request: ClaimRequest, since: number | undefined): boolean {
  return since !== undefined && request.stepStatusChangedAt !== undefined && request.stepStatusChangedAt > since + ROUND_SKEW_MS;
}

function claimDone(request: ClaimRequest, record: TaskRecord): ClaimDecision {
  const endedAt = record.patchedAt ?? record.finishedAt ?? record.updatedAt;
  if (reopenedSincePatch(request, record) ?? changedSince(request, endedAt)) return newRound(request, record);
  // A run none of this task's rounds had is on the step: someone started it for a round this runner has not seen.
  if (
    request.stepRunId !== undefined &&
    !isEarlierRoundRun(record, request.stepRunId) &&
    request.stepRunId !== record.automationExecutionId
  ) {
    return newRound(request, record);
  }
  const result = patchedResult(record);
  if (result !== undefined) {
    // The step is open, and nothing changed its status since this runner's patch: the patch did not stick, or this
    // read still shows the step as it was before it. Either way: patch the same result again, never run again.
    const { now, owner, leases } = request;
    return {
      kind: 'claim',
      next: 'patch',
      record: {
        ...pastItsClaim(record),
        status: 'PATCHING',
        owner,
        attempt: Math.max(request.attempt ?? record.attempt + 1, record.attempt),
        leaseUntil: claimLease(now, leases),
      },
      runId: record.automationExecutionId,
      result,
    };
  }
  if (record.automationExecutionId === undefined) {
    // The round was closed before any run (its workflow was not started, say): nothing can run twice.
    return newRound(request, record);
  }
  return {
    kind: 'skip',
    reason:
      `already done: run ${record.automationExecutionId} ended (${record.stepStatus ?? 'no step status'}), and the step's ` +
      `status has not changed since ${new Date(endedAt).toISOString()}`,
  };
}

/** The result this runner patched to close a round, if it did (a record closed without a patch has none). */
function patchedResult(record: TaskRecord): TaskResult | undefined {
  if (record.patchedAt === undefined) return undefined;
  return recordedResult({ ...record, status: 'PATCHING' });
}

/** Whether `runId` is the run of one of this task's rounds that are over (never adopted for a new round). */
export function isEarlierRoundRun(record: TaskRecord | undefined, runId: string): boolean {
  return record?.earlierRunIds?.includes(runId) ?? false;
}

function newRound(request: ClaimRequest, record: TaskRecord): ClaimDecision {
  const ended = record.automationExecutionId;
  const earlier = [...(record.earlierRunIds ?? []), ...(ended !== undefined && !isEarlierRoundRun(record, ended) ? [ended] : [])];
  return freshClaim(request, record.round + 1, request.attempt ?? record.attempt + 1, record.createdAt, earlier.slice(-EARLIER_RUNS_KEPT));
}

function freshClaim(
  request: ClaimRequest,
  round: number,
  attempt: number,
  createdAt = request.now,
  earlierRunIds: string[] = [],
): ClaimDecision {
  const { now, leases } = request;
  const common = {
    workflowExecutionId: request.workflowExecutionId,
    taskId: request.taskId,
    owner: request.owner,
    attempt,
    round,
    flowId: request.flowId,
    entityId: request.entityId,
    createdAt,
    ...(earlierRunIds.length > 0 ? { earlierRunIds } : {}),
  };
  if (request.stepRunId !== undefined && !earlierRunIds.includes(request.stepRunId)) {
    // epilot (or another runner) already started a run for this round: never start a second one.
    const deadline = runDeadline(now, leases);
    return {
      kind: 'claim',
      next: 'adopt',
      runId: request.stepRunId,
      runFromStep: true,
      deadline,
      record: {
        ...common,
        status: 'STARTED',
        automationExecutionId: request.stepRunId,
        deadline,
        leaseUntil: runLease(deadline, now, leases),
      },
    };
  }
  return { kind: 'claim', next: 'start', record: { ...common, status: 'CLAIMED', leaseUntil: claimLease(now, leases) } };
}

/**
 * Whether a run the step names (and no record of this runner does) belongs to a round that is over: it ended, and
 * the step's status changed after that (plus the skew margin), so the task was reopened since. Following it would
 * patch its old result onto the new round. A run still going, or one without the times to tell, is followed.
 */
export function ranInAnEarlierRound(
  run: { ended: boolean; endedAt: number | undefined },
  stepStatusChangedAt: number | undefined,
): boolean {
  return run.ended && run.endedAt !== undefined && stepStatusChangedAt !== undefined && stepStatusChangedAt > run.endedAt + ROUND_SKEW_MS;
}

/** A run adopted from the step turned out to be an earlier round's: this round starts its own, and never adopts that one. */
export function forgetEarlierRoundRun(record: TaskRecord, runId: string, now: number, leases: Leases): TaskRecordFields {
  const { automationExecutionId: _run, automationStatus: _status, deadline: _deadline, ...rest } = record;
  return {
    ...rest,
    status: 'CLAIMED',
    earlierRunIds: [...(record.earlierRunIds ?? []), runId].slice(-EARLIER_RUNS_KEPT),
    leaseUntil: claimLease(now, leases),
  };
}

/**
 * Noted just before the start request goes out (epilot's start has no idempotency key). The lease is renewed with
 * it: retries of the start must not outlive the claim and let a second execution start a second run meanwhile.
 */
export function noteStartAttempt(record: TaskRecord, now: number, leases: Leases): TaskRecordFields {
  return { ...record, startAttemptedAt: now, leaseUntil: claimLease(now, leases) };
}

/**
 * The earlier start's outcome is still unknown and its run not yet visible: keep the claim while waiting, but keep
 * `startAttemptedAt`, since the start-settle window counts from the attempt, not from the waiting.
 */
export function keepWaitingForStart(record: TaskRecord, now: number, leases: Leases): TaskRecordFields {
  return { ...record, leaseUntil: claimLease(now, leases) };
}

/** The run id goes to the record at once: from here on nothing may start a second run for this task. */
export function recordRun(
  record: TaskRecord,
  run: { id: string; status?: string | undefined },
  now: number,
  leases: Leases,
): TaskRecordFields {
  const deadline = runDeadline(now, leases);
  return {
    ...record,
    status: 'STARTED',
    automationExecutionId: run.id,
    automationStatus: run.status,
    startedAt: now,
    deadline,
    leaseUntil: runLease(deadline, now, leases),
  };
}

/** The deadline of a run this execution follows: the recorded one, or a full timeout from now if none was. */
export function deadlineOf(record: TaskRecord, now: number, leases: Leases): number {
  return record.deadline ?? runDeadline(now, leases);
}

/** The result goes to the record before anything that ends the run or patches the step (see task-result.ts). */
export function recordResult(record: TaskRecord, result: TaskResult, now: number, leases: Leases): TaskRecordFields {
  const { resultElsewhere: _previous, ...rest } = record;
  return {
    ...rest,
    status: 'PATCHING',
    stepStatus: result.stepStatus,
    automationStatus: result.automationStatus,
    reason: result.reason,
    resultRecordedAt: now,
    ...(result.elsewhere ? { resultElsewhere: true } : {}),
    leaseUntil: claimLease(now, leases),
  };
}

/** Why a record is closed without a patch of its step, and by which execution. */
export interface Unpatched {
  owner: string;
  /** The status the step shows, if known. */
  stepStatus: string | undefined;
  /** When epilot says that status was set (its clock), if it says. */
  statusChangedAt?: number | undefined;
  reason: string;
}

/**
 * DONE: after the step patch, with epilot's answer to it (answered at `now`: from then on an open step whose status
 * did not change since means the patch did not stick), or, with an `Unpatched`, for a record closed while the task
 * needs no patch from this runner (its step is final, its workflow closed, someone else decided the step…).
 */
export function close(record: TaskRecord, now: number, how?: PatchAnswer | Unpatched): TaskRecordFields {
  const { stepStatusStampedAt: _earlierStamp, ...rest } = record;
  const done: TaskRecordFields = { ...rest, status: 'DONE', leaseUntil: now, finishedAt: now };
  if (how === undefined || !('reason' in how)) {
    const stamp = how?.statusChangedAt;
    return { ...done, patchedAt: now, ...(stamp === undefined ? {} : { stepStatusStampedAt: stamp }) };
  }
  const unpatched = how;
  const { patchedAt: _earlierPatch, ...notPatched } = done;
  return {
    ...notPatched,
    ...(unpatched.statusChangedAt === undefined ? {} : { stepStatusStampedAt: unpatched.statusChangedAt }),
    owner: unpatched.owner,
    stepStatus: unpatched.stepStatus ?? record.stepStatus,
    reason: `closed without a patch: ${unpatched.reason}`,
  };
}

export type ExecutionPlan =
  { kind: 'start'; attempt: number } | { kind: 'running'; attempt: number; owner: string } | { kind: 'done'; attempt: number };

/**
 * Whether a trigger should start a task execution, and with which attempt number (part of the execution name).
 * The record decides, not the name: a live lease means an execution is at work; an expired one means it died and
 * the next attempt may finish the task. A task finished within `doneSettleMs` is left alone by sweeps, because
 * entity search can still show it as current for a while; webhooks, which report a fresh change, pass 0.
 */
export function planTaskExecution(record: TaskRecord | undefined, now: number, doneSettleMs: number): ExecutionPlan {
  if (record === undefined) return { kind: 'start', attempt: 1 };
  if (record.status === 'DONE') {
    const finishedAt = record.finishedAt ?? record.updatedAt;
    return finishedAt + doneSettleMs > now ? { kind: 'done', attempt: record.attempt } : { kind: 'start', attempt: record.attempt + 1 };
  }
  if (leaseIsLive(record, now)) return { kind: 'running', attempt: record.attempt, owner: record.owner };
  return { kind: 'start', attempt: record.attempt + 1 };
}

/**
 * Puts the step result this execution decided into the task record (PATCHING) before anything that ends the run
 * or patches the step. Once recorded, that result is the one every execution finishing the task patches, so a
 * crash between the side effect and the patch cannot change it. Returns the record as written and the result to
 * patch (the one recorded earlier, if any).
 */
export async function recordDecidedResult(
  deps: Pick<RunnerDeps, 'records' | 'clock' | 'settings'>,
  record: TaskRecord,
  result: TaskResult,
): Promise<{ record: TaskRecord; result: TaskResult }> {
  if (record.status === 'PATCHING') return { record, result: recordedResult(record) ?? result };
  const written = await deps.records.replace(record, recordResult(record, result, deps.clock.now(), deps.settings));
  return { record: written, result };
}

/** The first resume of a record waits nothing extra; each next one twice as long, up to a day. */
const RESUME_BACKOFF_BASE_MS = 60_000;
const RESUME_BACKOFF_MAX_MS = 24 * 60 * 60_000;

/**
 * Noted by a sweep after it started an execution to resume an abandoned record. Only `resumeCount` and
 * `resumeAfter` change (never the lease or owner, so the resumed execution claims as before): a record whose
 * executions keep failing before their claim is left out of the next sweeps for a growing time.
 */
export function noteResume(record: TaskRecord, now: number): TaskRecordFields {
  const resumeCount = (record.resumeCount ?? 0) + 1;
  const backoff = Math.min(RESUME_BACKOFF_BASE_MS * 2 ** (resumeCount - 1), RESUME_BACKOFF_MAX_MS);
  return { ...record, resumeCount, resumeAfter: now + backoff };
}
