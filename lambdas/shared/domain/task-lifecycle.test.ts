import {
  type ClaimRequest,
  claim,
  close,
  forgetEarlierRoundRun,
  ranInAnEarlierRound,
  ROUND_SKEW_MS,
  heldByAnotherExecution,
  keepWaitingForStart,
  noteStartAttempt,
  planTaskExecution,
  recordResult,
  recordRun,
} from './task-lifecycle';
import type { TaskRecord } from '../records/task-records';
import { aTaskRecord } from '../../../test/support/task-records';

const NOW = Date.parse('2024-05-01T12:00:00.000Z');
const LEASE_MS = 120_000;
const TIMEOUT_MS = 300_000;
const LEASES = { claimLeaseMs: LEASE_MS, automationTimeoutMs: TIMEOUT_MS };
const ME = 'arn:aws:states:eu-central-1:123456789012:execution:Task:me';
const OTHER = 'arn:aws:states:eu-central-1:123456789012:execution:Task:other';

function aRecord(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return aTaskRecord(
    {
      status: 'CLAIMED',
      version: 3,
      owner: OTHER,
      leaseUntil: NOW - 1,
      createdAt: NOW - 3_600_000,
      updatedAt: NOW - 60_000,
      ...overrides,
    },
    NOW,
  );
}

function aRequest(overrides: Partial<ClaimRequest> = {}): ClaimRequest {
  return {
    record: undefined,
    now: NOW,
    owner: ME,
    attempt: undefined,
    workflowExecutionId: 'wf-1',
    taskId: 'task-1',
    flowId: 'flow-1',
    entityId: 'entity-1',
    stepRunId: undefined,
    stepStatusChangedAt: undefined,
    leases: LEASES,
    ...overrides,
  };
}

function expectClaim(decision: ReturnType<typeof claim>) {
  if (decision.kind !== 'claim') throw new Error(`expected a claim, got skip: ${decision.reason}`);
  return decision;
}

function expectSkip(decision: ReturnType<typeof claim>) {
  if (decision.kind !== 'skip') throw new Error(`expected a skip, got claim (${decision.next})`);
  return decision;
}

describe('claim', () => {
  describe('without a record', () => {
    it('claims the task to start a run, attempt 1 of round 1', () => {
      const decision = expectClaim(claim(aRequest()));

      expect(decision.next).toBe('start');
      expect(decision.runId).toBeUndefined();
      expect(decision.record).toEqual({
        workflowExecutionId: 'wf-1',
        taskId: 'task-1',
        status: 'CLAIMED',
        owner: ME,
        attempt: 1,
        round: 1,
        flowId: 'flow-1',
        entityId: 'entity-1',
        leaseUntil: NOW + LEASE_MS,
        createdAt: NOW,
      });
    });

    it('keeps the attempt number the execution was started with', () => {
      const decision = expectClaim(claim(aRequest({ attempt: 4 })));

      expect(decision.record.attempt).toBe(4);
    });

    it('marks a run adopted from the step as such (Start automation checks it belongs to this round)', () => {
      expect(expectClaim(claim(aRequest({ stepRunId: 'run-from-epilot' }))).runFromStep).toBe(true);
      const record = aRecord({ status: 'STARTED', automationExecutionId: 'run-1' });
      expect(expectClaim(claim(aRequest({ record, stepRunId: 'run-1' }))).runFromStep).toBeUndefined();
    });

    it('adopts the run the step already shows instead of starting a second one', () => {
      const decision = expectClaim(claim(aRequest({ stepRunId: 'run-from-epilot' })));

      expect(decision.next).toBe('adopt');
      expect(decision.runId).toBe('run-from-epilot');
      expect(decision.deadline).toBe(NOW + TIMEOUT_MS);
      expect(decision.record).toMatchObject({
        status: 'STARTED',
        owner: ME,
        automationExecutionId: 'run-from-epilot',
        deadline: NOW + TIMEOUT_MS,
        leaseUntil: NOW + TIMEOUT_MS + LEASE_MS,
        round: 1,
      });
    });
  });

  describe('with a DONE record', () => {
    const PATCHED_AT = NOW - 10_000;
    const done = aRecord({
      status: 'DONE',
      owner: OTHER,
      leaseUntil: PATCHED_AT,
      attempt: 2,
      round: 1,
      automationExecutionId: 'run-1',
      automationStatus: 'success',
      stepStatus: 'COMPLETED',
      reason: 'automation success',
      startAttemptedAt: NOW - 400_000,
      finishedAt: PATCHED_AT,
      patchedAt: PATCHED_AT,
    });
    /** The step's status changed after the runner's patch, by more than the skew margin: the task was reopened. */
    const REOPENED_AT = PATCHED_AT + 5_000;
    /** The step's status last changed when the runner noted its run (IN_PROGRESS), before its final patch. */
    const RUN_NOTED_AT = NOW - 300_000;

    it('starts a new round when the reopened step shows no run id', () => {
      const decision = expectClaim(claim(aRequest({ record: done, stepRunId: undefined, stepStatusChangedAt: REOPENED_AT })));

      expect(decision.next).toBe('start');
      expect(decision.record).toMatchObject({ status: 'CLAIMED', owner: ME, round: 2, attempt: 3, earlierRunIds: ['run-1'] });
      // The record of the new round starts clean: nothing of the finished run may leak into it.
      expect(decision.record).not.toHaveProperty('automationExecutionId');
      expect(decision.record).not.toHaveProperty('startAttemptedAt');
      expect(decision.record).not.toHaveProperty('stepStatus');
      expect(decision.record).not.toHaveProperty('finishedAt');
      expect(decision.record).not.toHaveProperty('patchedAt');
      expect(decision.record.createdAt).toBe(done.createdAt);
    });

    describe('with epilot’s own stamp of the patch', () => {
      /** epilot's clock runs 300 ms behind the runner's here: its stamp of the patch is before patchedAt. */
      const stamped = { ...done, stepStatusStampedAt: PATCHED_AT - 300 };

      it('starts a new round when the step’s status changed after that stamp, even within the skew margin of patchedAt', () => {
        const decision = expectClaim(claim(aRequest({ record: stamped, stepRunId: 'run-1', stepStatusChangedAt: PATCHED_AT + 500 })));

        expect(decision.next).toBe('start');
        expect(decision.record).toMatchObject({ status: 'CLAIMED', round: 2, earlierRunIds: ['run-1'] });
        expect(decision.record).not.toHaveProperty('stepStatusStampedAt');
      });

      it('patches again, never a new round, when the step shows a status change no later than that stamp (stale or dropped)', () => {
        for (const stepStatusChangedAt of [RUN_NOTED_AT, PATCHED_AT - 300]) {
          const decision = expectClaim(claim(aRequest({ record: stamped, stepRunId: 'run-1', stepStatusChangedAt })));

          expect(decision.next).toBe('patch');
          expect(decision.record).toMatchObject({ status: 'PATCHING', round: 1 });
        }
      });
    });

    it('starts a new round with a new run, not adopting the old one, when the reopened step still shows the old run id', () => {
      const decision = expectClaim(claim(aRequest({ record: done, stepRunId: 'run-1', stepStatusChangedAt: REOPENED_AT })));

      expect(decision.next).toBe('start');
      expect(decision.runId).toBeUndefined();
      expect(decision.record).toMatchObject({ status: 'CLAIMED', round: 2, earlierRunIds: ['run-1'] });
    });

    it('starts a new round that adopts the run when the reopened step shows a run none of its rounds had', () => {
      const decision = expectClaim(claim(aRequest({ record: done, stepRunId: 'run-2', stepStatusChangedAt: REOPENED_AT })));

      expect(decision.next).toBe('adopt');
      expect(decision.runId).toBe('run-2');
      expect(decision.record).toMatchObject({ status: 'STARTED', automationExecutionId: 'run-2', round: 2, attempt: 3 });
    });

    it('adopts a run none of its rounds had even without a status change (someone else started it for a new round)', () => {
      const decision = expectClaim(claim(aRequest({ record: done, stepRunId: 'run-2', stepStatusChangedAt: RUN_NOTED_AT })));

      expect(decision).toMatchObject({ next: 'adopt', runId: 'run-2', record: { round: 2 } });
    });

    it('keeps the runs of every earlier round and never adopts one of them for the next round', () => {
      const second = { ...done, round: 2, automationExecutionId: 'run-2', earlierRunIds: ['run-1'] };

      const decision = expectClaim(claim(aRequest({ record: second, stepRunId: 'run-1', stepStatusChangedAt: REOPENED_AT })));

      expect(decision.next).toBe('start');
      expect(decision.record).toMatchObject({ round: 3, earlierRunIds: ['run-1', 'run-2'] });
    });

    it.each([
      ['the status last changed when the run was noted (the patch was dropped)', 'run-1', RUN_NOTED_AT],
      ['the read shows the step as before the patch, without its run (stale)', undefined, RUN_NOTED_AT],
      ['the status changed within the skew margin of the patch (its own stamp)', 'run-1', PATCHED_AT + 1_000],
      ['epilot gives no status time at all', 'run-1', undefined],
    ])('patches the recorded result again, without a run, when %s', (_case, stepRunId, stepStatusChangedAt) => {
      const decision = expectClaim(claim(aRequest({ record: done, stepRunId, stepStatusChangedAt })));

      expect(decision.next).toBe('patch');
      expect(decision.runId).toBe('run-1');
      expect(decision.result).toEqual({ stepStatus: 'COMPLETED', automationStatus: 'success', reason: 'automation success' });
      expect(decision.record).toMatchObject({ status: 'PATCHING', owner: ME, round: 1, attempt: 3, leaseUntil: NOW + LEASE_MS });
    });

    it('skips a round closed without a patch after its run, when the step did not change since', () => {
      const closed = { ...done, patchedAt: undefined, reason: 'closed without a patch: step already final (SKIPPED)' };

      const decision = expectSkip(claim(aRequest({ record: closed, stepRunId: 'run-1', stepStatusChangedAt: RUN_NOTED_AT })));

      expect(decision.reason).toMatch(/^already done: run run-1 ended/);
    });

    it('starts a new round when a step someone else finalized is reopened a moment after their stamp (within the skew margin)', () => {
      const decidedAt = PATCHED_AT - 1_000;
      const closed = { ...done, patchedAt: undefined, stepStatusStampedAt: decidedAt, reason: 'closed without a patch: set SKIPPED' };

      const decision = expectClaim(claim(aRequest({ record: closed, stepRunId: 'run-1', stepStatusChangedAt: decidedAt + 500 })));

      expect(decision).toMatchObject({ next: 'start', record: { round: 2, earlierRunIds: ['run-1'] } });
      expect(expectSkip(claim(aRequest({ record: closed, stepRunId: 'run-1', stepStatusChangedAt: decidedAt }))).reason).toMatch(
        /^already done/,
      );
    });

    it('starts a new round for a round closed before any run, since nothing can run twice', () => {
      const closed = aRecord({ status: 'DONE', finishedAt: PATCHED_AT, reason: 'closed without a patch: workflow not STARTED (DONE)' });

      const decision = expectClaim(claim(aRequest({ record: closed })));

      expect(decision).toMatchObject({ next: 'start', record: { round: 2 } });
    });

    it('counts a round closed without a patch as ended at its finish time', () => {
      const closed = { ...done, patchedAt: undefined };

      expect(expectClaim(claim(aRequest({ record: closed, stepStatusChangedAt: REOPENED_AT }))).next).toBe('start');
    });

    it('takes the attempt from the execution when one was given', () => {
      const decision = expectClaim(claim(aRequest({ record: done, attempt: 7, stepStatusChangedAt: REOPENED_AT })));

      expect(decision.record).toMatchObject({ round: 2, attempt: 7 });
    });

    it('does not care whose lease it was: DONE is final for that round', () => {
      const decision = expectClaim(claim(aRequest({ record: { ...done, leaseUntil: NOW + 60_000 }, stepStatusChangedAt: REOPENED_AT })));

      expect(decision.record.round).toBe(2);
    });
  });

  describe('with a live lease of another execution', () => {
    it.each(['CLAIMED', 'STARTED', 'PATCHING'] as const)('skips a %s record as busy', (status) => {
      const record = aRecord({ status, owner: OTHER, leaseUntil: NOW + 1, automationExecutionId: 'run-1', stepStatus: 'FAILED' });

      const decision = expectSkip(claim(aRequest({ record, stepRunId: 'run-1' })));

      expect(decision.reason).toMatch(/^busy/);
      expect(decision.reason).toContain(OTHER);
    });
  });

  describe('with an expired lease of another execution', () => {
    it('starts the resume backoff over once claimed (it is for executions that fail before their claim)', () => {
      const record = aRecord({ status: 'STARTED', automationExecutionId: 'run-1', resumeCount: 6, resumeAfter: NOW + 3_600_000 });

      const decision = expectClaim(claim(aRequest({ record, attempt: 7 })));

      expect(decision.record).not.toHaveProperty('resumeCount');
      expect(decision.record).not.toHaveProperty('resumeAfter');
    });

    it('adopts the run the record holds, keeping its deadline', () => {
      const deadline = NOW + 30_000;
      const record = aRecord({ status: 'STARTED', automationExecutionId: 'run-1', automationStatus: 'in_progress', deadline, attempt: 1 });

      const decision = expectClaim(claim(aRequest({ record, attempt: 2 })));

      expect(decision.next).toBe('adopt');
      expect(decision.runId).toBe('run-1');
      expect(decision.deadline).toBe(deadline);
      expect(decision.record).toMatchObject({
        status: 'STARTED',
        owner: ME,
        attempt: 2,
        round: 1,
        automationExecutionId: 'run-1',
        deadline,
        leaseUntil: deadline + LEASE_MS,
      });
    });

    it('leases an adopted run past its deadline for at least claimLeaseMs from now', () => {
      const record = aRecord({ status: 'STARTED', automationExecutionId: 'run-1', deadline: NOW - 5_000 });

      const decision = expectClaim(claim(aRequest({ record })));

      expect(decision.record.leaseUntil).toBe(NOW + LEASE_MS);
    });

    it('adopts the run the step shows when the record has none', () => {
      const record = aRecord({ status: 'CLAIMED' });

      const decision = expectClaim(claim(aRequest({ record, stepRunId: 'run-from-epilot' })));

      expect(decision.next).toBe('adopt');
      expect(decision.runId).toBe('run-from-epilot');
      expect(decision.deadline).toBe(NOW + TIMEOUT_MS);
      expect(decision.record).toMatchObject({ status: 'STARTED', automationExecutionId: 'run-from-epilot' });
    });

    it('resumes the start and keeps startAttemptedAt, so the start looks for a run the dead owner created', () => {
      const record = aRecord({ status: 'CLAIMED', startAttemptedAt: NOW - 90_000, attempt: 1 });

      const decision = expectClaim(claim(aRequest({ record, attempt: 2 })));

      expect(decision.next).toBe('start');
      expect(decision.runId).toBeUndefined();
      expect(decision.record).toMatchObject({
        status: 'CLAIMED',
        owner: ME,
        attempt: 2,
        startAttemptedAt: NOW - 90_000,
        leaseUntil: NOW + LEASE_MS,
      });
    });

    it('never lowers the attempt below the one recorded', () => {
      const record = aRecord({ status: 'CLAIMED', attempt: 5 });

      const decision = expectClaim(claim(aRequest({ record, attempt: 2 })));

      expect(decision.record.attempt).toBe(5);
    });

    it('finishes a PATCHING record by patching the recorded result, not by deciding again', () => {
      const record = aRecord({
        status: 'PATCHING',
        automationExecutionId: 'run-1',
        automationStatus: 'failed',
        stepStatus: 'FAILED',
        reason: 'automation failed',
      });

      const decision = expectClaim(claim(aRequest({ record })));

      expect(decision.next).toBe('patch');
      expect(decision.runId).toBe('run-1');
      expect(decision.result).toEqual({ stepStatus: 'FAILED', automationStatus: 'failed', reason: 'automation failed' });
      expect(decision.record).toMatchObject({ status: 'PATCHING', owner: ME, leaseUntil: NOW + LEASE_MS });
    });

    it('gives a PATCHING record without a reason a default one', () => {
      const record = aRecord({ status: 'PATCHING', automationExecutionId: 'run-1', stepStatus: 'COMPLETED' });

      const decision = expectClaim(claim(aRequest({ record })));

      expect(decision.result?.stepStatus).toBe('COMPLETED');
      expect(decision.result?.reason).toMatch(/earlier execution/);
    });

    describe('PATCHING, with the step open again', () => {
      const RECORDED_AT = NOW - 60_000;
      const patching = aRecord({
        status: 'PATCHING',
        round: 1,
        automationExecutionId: 'run-1',
        automationStatus: 'success',
        stepStatus: 'COMPLETED',
        reason: 'automation success',
        resultRecordedAt: RECORDED_AT,
      });

      it('starts a new round, without the old run, when the step status changed after the result was recorded', () => {
        // The patch landed, then epilot reopened the task before the record was closed (the old known limit).
        const decision = expectClaim(claim(aRequest({ record: patching, stepRunId: 'run-1', stepStatusChangedAt: RECORDED_AT + 30_000 })));

        expect(decision.next).toBe('start');
        expect(decision.result).toBeUndefined();
        expect(decision.record).toMatchObject({ status: 'CLAIMED', round: 2, earlierRunIds: ['run-1'] });
      });

      it('patches the recorded result when the step status last changed before it was recorded', () => {
        const decision = expectClaim(claim(aRequest({ record: patching, stepRunId: 'run-1', stepStatusChangedAt: RECORDED_AT - 200_000 })));

        expect(decision).toMatchObject({ next: 'patch', result: { stepStatus: 'COMPLETED' }, record: { round: 1 } });
      });
    });

    it('starts a run instead of adopting one the step shows that belongs to an earlier round', () => {
      const record = aRecord({ status: 'CLAIMED', round: 2, earlierRunIds: ['run-1'] });

      const decision = expectClaim(claim(aRequest({ record, stepRunId: 'run-1' })));

      expect(decision.next).toBe('start');
      expect(decision.runId).toBeUndefined();
    });
  });

  describe('with its own record (a retried Claim)', () => {
    it('continues the start of a CLAIMED record although the lease is live', () => {
      const record = aRecord({ status: 'CLAIMED', owner: ME, leaseUntil: NOW + 60_000 });

      const decision = expectClaim(claim(aRequest({ record })));

      expect(decision.next).toBe('start');
      expect(decision.record).toMatchObject({ owner: ME, status: 'CLAIMED', leaseUntil: NOW + LEASE_MS });
    });

    it('continues with the run it already started', () => {
      const record = aRecord({
        status: 'STARTED',
        owner: ME,
        leaseUntil: NOW + 60_000,
        automationExecutionId: 'run-1',
        deadline: NOW + 20_000,
      });

      const decision = expectClaim(claim(aRequest({ record })));

      expect(decision.next).toBe('adopt');
      expect(decision.runId).toBe('run-1');
      expect(decision.deadline).toBe(NOW + 20_000);
    });
  });
});

describe('ranInAnEarlierRound', () => {
  const ENDED = NOW - 60_000;
  it.each([
    ['ended, and the step changed after it by more than the skew margin', true, ENDED, ENDED + ROUND_SKEW_MS + 1, true],
    ['ended, and the step changed within the skew margin of its end', true, ENDED, ENDED + ROUND_SKEW_MS, false],
    ['ended after the step last changed (the IN_PROGRESS note of a live round)', true, ENDED, ENDED - 5_000, false],
    ['still going', false, ENDED, ENDED + 60_000, false],
    ['ended at an unknown time', true, undefined, ENDED + 60_000, false],
    ['ended, with no time of the step’s status change', true, ENDED, undefined, false],
  ] as const)('is %s: %s', (_case, ended, endedAt, changedAt, expected) => {
    expect(ranInAnEarlierRound({ ended, endedAt }, changedAt)).toBe(expected);
  });
});

describe('forgetEarlierRoundRun', () => {
  it('takes the record back to CLAIMED without the run, keeping it among the earlier rounds’ runs, with a claim lease', () => {
    const record = aRecord({
      status: 'STARTED',
      owner: ME,
      automationExecutionId: 'run-0',
      automationStatus: 'success',
      deadline: NOW + 1,
      earlierRunIds: ['run-x'],
    });

    const next = forgetEarlierRoundRun(record, 'run-0', NOW, LEASES);

    expect(next).toMatchObject({ status: 'CLAIMED', owner: ME, earlierRunIds: ['run-x', 'run-0'], leaseUntil: NOW + LEASE_MS });
    expect(next).not.toHaveProperty('automationExecutionId');
    expect(next).not.toHaveProperty('automationStatus');
    expect(next).not.toHaveProperty('deadline');
  });
});

describe('heldByAnotherExecution', () => {
  it.each([
    ['another execution, live lease', OTHER, NOW + 1, true],
    ['another execution, lease ended now', OTHER, NOW, false],
    ['this execution, live lease', ME, NOW + 1, false],
  ])('%s: %s', (_case, owner, leaseUntil, held) => {
    expect(heldByAnotherExecution(aRecord({ owner, leaseUntil }), ME, NOW)).toBe(held);
  });
});

describe('noteStartAttempt', () => {
  it('notes the attempt and renews the claim lease from now, keeping the status', () => {
    const record = aRecord({ status: 'CLAIMED', owner: ME, leaseUntil: NOW + 5_000 });

    expect(noteStartAttempt(record, NOW, LEASES)).toMatchObject({
      status: 'CLAIMED',
      owner: ME,
      startAttemptedAt: NOW,
      leaseUntil: NOW + LEASE_MS,
    });
  });
});

describe('keepWaitingForStart', () => {
  it('renews the claim lease from now and keeps startAttemptedAt, so the start-settle window still counts from the attempt', () => {
    const record = aRecord({ status: 'CLAIMED', owner: ME, startAttemptedAt: NOW - 30_000, leaseUntil: NOW + 5_000 });

    expect(keepWaitingForStart(record, NOW, LEASES)).toMatchObject({
      status: 'CLAIMED',
      owner: ME,
      startAttemptedAt: NOW - 30_000,
      leaseUntil: NOW + LEASE_MS,
    });
  });
});

describe('recordRun', () => {
  it('records the run as STARTED, with its start time, a deadline one timeout away and a lease past that', () => {
    const record = aRecord({ status: 'CLAIMED', owner: ME, startAttemptedAt: NOW - 1_000 });

    expect(recordRun(record, { id: 'run-1', status: 'pending' }, NOW, LEASES)).toMatchObject({
      status: 'STARTED',
      owner: ME,
      automationExecutionId: 'run-1',
      automationStatus: 'pending',
      startAttemptedAt: NOW - 1_000,
      startedAt: NOW,
      deadline: NOW + TIMEOUT_MS,
      leaseUntil: NOW + TIMEOUT_MS + LEASE_MS,
    });
  });
});

describe('recordResult', () => {
  it('records the result as PATCHING, with a claim lease from now', () => {
    const record = aRecord({ status: 'STARTED', owner: ME, automationExecutionId: 'run-1', deadline: NOW + 60_000 });

    expect(
      recordResult(record, { stepStatus: 'FAILED', automationStatus: 'failed', reason: 'automation failed' }, NOW, LEASES),
    ).toMatchObject({
      status: 'PATCHING',
      automationExecutionId: 'run-1',
      stepStatus: 'FAILED',
      automationStatus: 'failed',
      reason: 'automation failed',
      leaseUntil: NOW + LEASE_MS,
      resultRecordedAt: NOW,
    });
  });

  it('marks a result someone else decided on the step, and drops that mark for a result of its own', () => {
    const record = aRecord({ status: 'STARTED', owner: ME, automationExecutionId: 'run-1' });
    const elsewhere = recordResult(record, { stepStatus: 'SKIPPED', reason: 'set by a person', elsewhere: true }, NOW, LEASES);

    expect(elsewhere.resultElsewhere).toBe(true);
    expect(
      recordResult(aRecord({ ...record, resultElsewhere: true }), { stepStatus: 'FAILED', reason: 'x' }, NOW, LEASES),
    ).not.toHaveProperty('resultElsewhere');
  });
});

describe('close', () => {
  it('closes a patched record as DONE, finished now, with its lease ended and its result kept', () => {
    const record = aRecord({ status: 'PATCHING', owner: ME, stepStatus: 'COMPLETED', reason: 'automation success' });

    expect(close(record, NOW)).toMatchObject({
      status: 'DONE',
      owner: ME,
      stepStatus: 'COMPLETED',
      reason: 'automation success',
      leaseUntil: NOW,
      finishedAt: NOW,
      patchedAt: NOW,
    });
  });

  it('keeps epilot’s stamp of the status the round ended with (the patch’s answer, or the status someone else set), and no earlier round’s stamp', () => {
    const record = aRecord({ status: 'PATCHING', owner: ME, stepStatus: 'COMPLETED', stepStatusStampedAt: NOW - 60_000 });

    expect(close(record, NOW, { statusChangedAt: NOW - 120 })).toMatchObject({ patchedAt: NOW, stepStatusStampedAt: NOW - 120 });
    expect(close(record, NOW, {})).not.toHaveProperty('stepStatusStampedAt');
    expect(close(record, NOW, { owner: ME, stepStatus: 'COMPLETED', reason: 'done elsewhere' })).not.toHaveProperty('stepStatusStampedAt');
    expect(close(record, NOW, { owner: ME, stepStatus: 'SKIPPED', statusChangedAt: NOW - 5, reason: 'set elsewhere' })).toMatchObject({
      stepStatusStampedAt: NOW - 5,
    });
  });

  it('closes a record left unfinished without a patch, taking it over and keeping the step status epilot shows', () => {
    const record = aRecord({ status: 'STARTED', owner: OTHER, stepStatus: undefined });

    expect(close(record, NOW, { owner: ME, stepStatus: 'COMPLETED', reason: 'step already final (COMPLETED)' })).toMatchObject({
      status: 'DONE',
      owner: ME,
      stepStatus: 'COMPLETED',
      reason: 'closed without a patch: step already final (COMPLETED)',
      leaseUntil: NOW,
      finishedAt: NOW,
    });
  });

  it('notes no patch time for a record closed without a patch, and drops one an earlier round left', () => {
    const record = aRecord({ status: 'PATCHING', stepStatus: 'COMPLETED', patchedAt: NOW - 60_000 });

    expect(close(record, NOW, { owner: ME, stepStatus: 'SKIPPED', reason: 'set by a person' })).not.toHaveProperty('patchedAt');
  });

  it('keeps the recorded step status when epilot shows none', () => {
    const record = aRecord({ status: 'PATCHING', stepStatus: 'FAILED' });

    expect(close(record, NOW, { owner: ME, stepStatus: undefined, reason: 'execution not found' }).stepStatus).toBe('FAILED');
  });
});

describe('planTaskExecution', () => {
  const SETTLE_MS = 600_000;

  it('starts attempt 1 when there is no record', () => {
    expect(planTaskExecution(undefined, NOW, SETTLE_MS)).toEqual({ kind: 'start', attempt: 1 });
  });

  it('reports a live lease as running, naming the owner', () => {
    const record = aRecord({ status: 'STARTED', attempt: 2, owner: OTHER, leaseUntil: NOW + 1 });

    expect(planTaskExecution(record, NOW, SETTLE_MS)).toEqual({ kind: 'running', attempt: 2, owner: OTHER });
  });

  it('starts the next attempt when the lease expired (the owner died)', () => {
    const record = aRecord({ status: 'STARTED', attempt: 2, leaseUntil: NOW });

    expect(planTaskExecution(record, NOW, SETTLE_MS)).toEqual({ kind: 'start', attempt: 3 });
  });

  it('leaves a task alone that was finished within the settle time', () => {
    const record = aRecord({ status: 'DONE', attempt: 2, finishedAt: NOW - SETTLE_MS + 1 });

    expect(planTaskExecution(record, NOW, SETTLE_MS)).toEqual({ kind: 'done', attempt: 2 });
  });

  it('starts the next attempt for a task finished longer ago than the settle time', () => {
    const record = aRecord({ status: 'DONE', attempt: 2, finishedAt: NOW - SETTLE_MS });

    expect(planTaskExecution(record, NOW, SETTLE_MS)).toEqual({ kind: 'start', attempt: 3 });
  });

  it('falls back to updatedAt when finishedAt is missing', () => {
    const record = aRecord({ status: 'DONE', attempt: 1, updatedAt: NOW - 1_000, finishedAt: undefined });

    expect(planTaskExecution(record, NOW, SETTLE_MS).kind).toBe('done');
    expect(planTaskExecution(record, NOW, 500).kind).toBe('start');
  });

  it('starts at once after DONE when the settle time is 0 (webhooks)', () => {
    const record = aRecord({ status: 'DONE', attempt: 1, finishedAt: NOW - 1 });

    expect(planTaskExecution(record, NOW, 0)).toEqual({ kind: 'start', attempt: 2 });
  });

  it('ignores a DONE record’s lease', () => {
    const record = aRecord({ status: 'DONE', attempt: 1, leaseUntil: NOW + 60_000, finishedAt: NOW - SETTLE_MS - 1 });

    expect(planTaskExecution(record, NOW, SETTLE_MS)).toEqual({ kind: 'start', attempt: 2 });
  });
});
