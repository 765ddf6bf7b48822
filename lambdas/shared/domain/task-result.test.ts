import type { RunnerDeps } from '../runtime/runner-deps';
import { runnerSettings } from '../config/settings';
import type { TaskRecord, TaskRecordFields } from '../records/task-records';
import { aTaskRecord } from '../../../test/support/task-records';
import { recordDecidedResult } from './task-lifecycle';
import { decideResult, finalizedElsewhere, recordedResult } from './task-result';
import type { TaskRun, TaskState } from './task-state';

const TIMEOUT_MS = 300_000;

function withRun(run: Partial<TaskRun>, overrides: Partial<TaskState> = {}): TaskState {
  return {
    workflowExecutionId: 'wf-1',
    taskId: 'task-1',
    trigger: 'sweep',
    flowId: 'flow-1',
    run: { executionId: 'run-1', adopted: false, polls: 3, finished: true, timedOut: false, ...run },
    ...overrides,
  };
}

describe('decideResult', () => {
  it.each([
    ['success', 'COMPLETED'],
    ['failed', 'FAILED'],
    ['skipped', 'SKIPPED'],
    ['cancelled', 'SKIPPED'],
    ['hot', 'FAILED'],
  ])('maps a run that ended %s to %s (the guide’s table)', (status, stepStatus) => {
    expect(decideResult(withRun({ status }), TIMEOUT_MS)).toEqual({
      stepStatus,
      automationStatus: status,
      reason: `automation ${status}`,
    });
  });

  it('fails the step when the run timed out, saying how long the runner waited', () => {
    const result = decideResult(withRun({ status: 'in_progress', finished: false, timedOut: true }), TIMEOUT_MS);

    expect(result).toEqual({
      stepStatus: 'FAILED',
      automationStatus: 'in_progress',
      reason: 'automation did not finish within 300 s',
    });
  });

  it('mentions the cancellation of a timed-out run', () => {
    const result = decideResult(withRun({ status: 'cancelled', finished: false, timedOut: true }), TIMEOUT_MS);

    // A run the runner cancelled after its deadline is a failure, not the SKIPPED of a run cancelled in epilot.
    expect(result.stepStatus).toBe('FAILED');
    expect(result.reason).toBe('automation did not finish within 300 s; the run was cancelled');
  });

  it('fails the step with the runner’s error when a state failed', () => {
    const state = withRun(
      { status: 'in_progress' },
      { error: { Error: 'EpilotPermanentError', Cause: 'startFlowExecution answered 403' } },
    );

    expect(decideResult(state, TIMEOUT_MS)).toEqual({
      stepStatus: 'FAILED',
      automationStatus: 'in_progress',
      reason: 'the runner could not finish the automation: EpilotPermanentError: startFlowExecution answered 403',
    });
  });

  it('fails the step with the error name alone when there is no cause, also before any run exists', () => {
    const state: TaskState = { workflowExecutionId: 'wf-1', taskId: 'task-1', trigger: 'sweep', error: { Error: 'States.Timeout' } };

    expect(decideResult(state, TIMEOUT_MS)).toEqual({
      stepStatus: 'FAILED',
      automationStatus: undefined,
      reason: 'the runner could not finish the automation: States.Timeout',
    });
  });

  it('says so when the run was cancelled because the runner could no longer follow it', () => {
    const state = withRun({ status: 'cancelled' }, { error: { Error: 'EpilotPermanentError', Cause: 'getExecution answered 401' } });

    expect(decideResult(state, TIMEOUT_MS)).toEqual({
      stepStatus: 'FAILED',
      automationStatus: 'cancelled',
      reason: 'the runner could not finish the automation: EpilotPermanentError: getExecution answered 401; the run was cancelled',
    });
  });

  it('keeps the reason of a long error cause at 1000 characters', () => {
    const state = withRun({}, { error: { Error: 'Error', Cause: 'x'.repeat(5000) } });

    expect(decideResult(state, TIMEOUT_MS).reason).toHaveLength(1000);
  });

  it('lets an error win over a successful status', () => {
    const state = withRun({ status: 'success' }, { error: { Error: 'OwnershipLostError' } });

    expect(decideResult(state, TIMEOUT_MS).stepStatus).toBe('FAILED');
  });

  it.each([
    ['an unknown status', 'exploded', 'automation ended in an unknown status (exploded)'],
    ['a running status', 'in_progress', 'automation ended in an unknown status (in_progress)'],
    ['an inherited property name', 'toString', 'automation ended in an unknown status (toString)'],
    ['no status', undefined, 'automation ended in an unknown status (none)'],
  ])('fails the step for %s', (_case, status, reason) => {
    expect(decideResult(withRun({ status }), TIMEOUT_MS)).toEqual({ stepStatus: 'FAILED', automationStatus: status, reason });
  });
});

const NOW = Date.parse('2024-05-01T12:00:00.000Z');

function aRecord(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return aTaskRecord(
    {
      status: 'STARTED',
      version: 3,
      owner: 'me',
      leaseUntil: NOW + 60_000,
      automationExecutionId: 'run-1',
      createdAt: NOW - 60_000,
      updatedAt: NOW - 1_000,
      ...overrides,
    },
    NOW,
  );
}

describe('decideResult for a step someone else finalized', () => {
  it.each([
    ['a run still going', { status: 'in_progress', finished: false }, 'SKIPPED'],
    ['a run that succeeded', { status: 'success' }, 'FAILED'],
    ['a run that timed out', { status: 'in_progress', finished: false, timedOut: true }, 'COMPLETED'],
  ] as const)('keeps the step status someone else set over %s', (_case, run, status) => {
    const state = withRun(run, { stepFinalizedElsewhere: { status, changedAt: '2024-05-01T12:00:00.000Z' } });

    expect(decideResult(state, TIMEOUT_MS)).toEqual({
      stepStatus: status,
      automationStatus: run.status,
      reason: `the step was set ${status} by someone else at 2024-05-01T12:00:00.000Z`,
      elsewhere: true,
    });
  });

  it('keeps it over a runner error too, and says the run was cancelled', () => {
    const state = withRun(
      { status: 'cancelled' },
      { stepFinalizedElsewhere: { status: 'COMPLETED' }, error: { Error: 'EpilotTransientError', Cause: 'x' } },
    );

    expect(decideResult(state, TIMEOUT_MS)).toMatchObject({
      stepStatus: 'COMPLETED',
      reason: 'the step was set COMPLETED by someone else; the run was cancelled',
      elsewhere: true,
    });
  });
});

describe('finalizedElsewhere', () => {
  const AT = Date.parse('2024-05-01T12:00:00.000Z');
  it.each([
    ['an open step', { status: 'IN_PROGRESS', statusChangedAt: AT }, undefined, undefined],
    ['a step read with no status', { status: undefined, statusChangedAt: AT }, undefined, undefined],
    ['no step at all', undefined, undefined, undefined],
    ['a step final with the status the runner would patch', { status: 'COMPLETED', statusChangedAt: AT }, 'COMPLETED', undefined],
    [
      'a step set SKIPPED, with its time',
      { status: 'SKIPPED', statusChangedAt: AT },
      'COMPLETED',
      { status: 'SKIPPED', changedAt: '2024-05-01T12:00:00.000Z' },
    ],
    ['a step set FAILED without a time', { status: 'FAILED', statusChangedAt: undefined }, undefined, { status: 'FAILED' }],
  ] as const)('for %s gives %j', (_case, step, ours, expected) => {
    expect(finalizedElsewhere(step, ours)).toEqual(expected);
  });
});

describe('recordedResult', () => {
  it('reads a result someone else decided as such', () => {
    expect(recordedResult(aRecord({ status: 'PATCHING', stepStatus: 'SKIPPED', reason: 'r', resultElsewhere: true }))).toEqual({
      stepStatus: 'SKIPPED',
      automationStatus: undefined,
      reason: 'r',
      elsewhere: true,
    });
  });

  it('reads the result a PATCHING record holds', () => {
    const record = aRecord({ status: 'PATCHING', stepStatus: 'FAILED', automationStatus: 'cancelled', reason: 'timed out' });

    expect(recordedResult(record)).toEqual({ stepStatus: 'FAILED', automationStatus: 'cancelled', reason: 'timed out' });
  });

  it('gives a recorded result without a reason a default one', () => {
    expect(recordedResult(aRecord({ status: 'PATCHING', stepStatus: 'COMPLETED' }))?.reason).toMatch(/earlier execution/);
  });

  it.each([
    ['a PATCHING record without a step status', { status: 'PATCHING', stepStatus: undefined }],
    ['a PATCHING record with a step status that is no result', { status: 'PATCHING', stepStatus: 'IN_PROGRESS' }],
    ['a DONE record (patched already)', { status: 'DONE', stepStatus: 'COMPLETED' }],
    ['a STARTED record', { status: 'STARTED', stepStatus: undefined }],
  ] as const)('reads nothing from %s', (_case, overrides) => {
    expect(recordedResult(aRecord(overrides))).toBeUndefined();
  });
});

describe('recordDecidedResult', () => {
  const settings = runnerSettings({ claimLeaseMs: 120_000 });
  function store() {
    const writes: TaskRecordFields[] = [];
    const records = {
      replace: async (previous: TaskRecord, next: TaskRecordFields) => {
        writes.push(next);
        return { ...previous, ...next, version: previous.version + 1 };
      },
    } as unknown as RunnerDeps['records'];
    return { writes, deps: { records, settings, clock: { now: () => NOW, sleep: async () => undefined } } };
  }
  const decided = { stepStatus: 'COMPLETED', automationStatus: 'success', reason: 'automation success' } as const;

  it('writes the decided result as PATCHING and returns it', async () => {
    const { writes, deps } = store();

    const { record, result } = await recordDecidedResult(deps, aRecord(), decided);

    expect(result).toEqual(decided);
    expect(writes).toEqual([expect.objectContaining({ status: 'PATCHING', stepStatus: 'COMPLETED', leaseUntil: NOW + 120_000 })]);
    expect(record.version).toBe(4);
  });

  it('returns the result recorded earlier, without writing, when the record is PATCHING already', async () => {
    const { writes, deps } = store();
    const patching = aRecord({ status: 'PATCHING', stepStatus: 'FAILED', automationStatus: 'cancelled', reason: 'timed out' });

    const { record, result } = await recordDecidedResult(deps, patching, decided);

    expect(result).toEqual({ stepStatus: 'FAILED', automationStatus: 'cancelled', reason: 'timed out' });
    expect(record).toBe(patching);
    expect(writes).toEqual([]);
  });
});
