import type { TaskRecord } from '../records/task-records';
import type { TaskResult } from './task-state';

/**
 * The decisions about a task's record, as pure functions of what was read. The handlers read, decide here, and
 * write conditionally on the version they read; a lost race means reading and deciding again.
 */

type RecordFields = Omit<TaskRecord, 'version' | 'pk' | 'sk'>;

export interface ClaimRequest {
  record: TaskRecord | undefined;
  now: number;
  owner: string;
  attempt: number | undefined;
  workflowExecutionId: string;
  taskId: string;
  flowId: string;
  entityId: string;
  /** The run epilot itself shows on the step, if any. */
  stepRunId: string | undefined;
  claimLeaseMs: number;
  automationTimeoutMs: number;
}

export type ClaimDecision =
  | { kind: 'skip'; reason: string }
  | {
      kind: 'claim';
      next: 'start' | 'adopt' | 'patch';
      record: RecordFields;
      runId?: string | undefined;
      deadline?: number | undefined;
      result?: TaskResult | undefined;
    };

export function decideClaim(request: ClaimRequest): ClaimDecision {
  const { record, now, owner } = request;
  if (record === undefined) return freshClaim(request, 1, request.attempt ?? 1);

  if (record.status === 'DONE') {
    // The step is open again (Find task checked it is not final). Same run id: epilot still shows our finished
    // run, so this is not a new round. A different run id, or none, means the workflow reopened the task.
    if (request.stepRunId !== undefined && request.stepRunId === record.automationExecutionId) {
      return { kind: 'skip', reason: `already done: run ${record.automationExecutionId} was patched ${record.stepStatus}` };
    }
    return freshClaim(request, record.round + 1, request.attempt ?? record.attempt + 1, record.createdAt);
  }

  if (record.owner !== owner && record.leaseUntil > now) {
    return {
      kind: 'skip',
      reason: `busy: ${record.owner} holds this task until ${new Date(record.leaseUntil).toISOString()}`,
    };
  }

  // Ours already (a retried Claim), or left behind by an execution whose lease ran out: carry on from the record.
  const base: RecordFields = {
    ...record,
    owner,
    attempt: Math.max(request.attempt ?? record.attempt, record.attempt),
    updatedAt: now,
  };
  if (record.status === 'PATCHING' && record.stepStatus !== undefined) {
    return {
      kind: 'claim',
      next: 'patch',
      record: { ...base, leaseUntil: now + request.claimLeaseMs },
      runId: record.automationExecutionId,
      result: {
        stepStatus: record.stepStatus as TaskResult['stepStatus'],
        automationStatus: record.automationStatus,
        reason: record.reason ?? 'finishing a patch an earlier execution could not complete',
      },
    };
  }
  const runId = record.automationExecutionId ?? request.stepRunId;
  if (runId !== undefined) {
    const deadline = record.deadline ?? now + request.automationTimeoutMs;
    return {
      kind: 'claim',
      next: 'adopt',
      runId,
      deadline,
      record: {
        ...base,
        status: 'STARTED',
        automationExecutionId: runId,
        deadline,
        leaseUntil: Math.max(deadline, now) + request.claimLeaseMs,
      },
    };
  }
  return { kind: 'claim', next: 'start', record: { ...base, status: 'CLAIMED', leaseUntil: now + request.claimLeaseMs } };
}

function freshClaim(request: ClaimRequest, round: number, attempt: number, createdAt = request.now): ClaimDecision {
  const { now } = request;
  const common = {
    workflowExecutionId: request.workflowExecutionId,
    taskId: request.taskId,
    owner: request.owner,
    attempt,
    round,
    flowId: request.flowId,
    entityId: request.entityId,
    createdAt,
    updatedAt: now,
  };
  if (request.stepRunId !== undefined) {
    // epilot (or an earlier round of ours) already started a run for this task: never start a second one.
    const deadline = now + request.automationTimeoutMs;
    return {
      kind: 'claim',
      next: 'adopt',
      runId: request.stepRunId,
      deadline,
      record: {
        ...common,
        status: 'STARTED',
        automationExecutionId: request.stepRunId,
        deadline,
        leaseUntil: deadline + request.claimLeaseMs,
      },
    };
  }
  return { kind: 'claim', next: 'start', record: { ...common, status: 'CLAIMED', leaseUntil: now + request.claimLeaseMs } };
}

export type ExecutionPlan =
  | { kind: 'start'; attempt: number }
  | { kind: 'running'; attempt: number; owner: string }
  | { kind: 'done'; attempt: number };

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
    return finishedAt + doneSettleMs > now
      ? { kind: 'done', attempt: record.attempt }
      : { kind: 'start', attempt: record.attempt + 1 };
  }
  if (record.leaseUntil > now) return { kind: 'running', attempt: record.attempt, owner: record.owner };
  return { kind: 'start', attempt: record.attempt + 1 };
}
