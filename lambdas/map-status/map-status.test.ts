import type { TaskRun, TaskState } from '../shared/domain/task-state';
import { mapStatus } from './map-status';

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

describe('mapStatus', () => {
  it.each([
    ['success', 'COMPLETED'],
    ['failed', 'FAILED'],
    ['skipped', 'SKIPPED'],
    ['cancelled', 'SKIPPED'],
    ['hot', 'FAILED'],
  ])('maps a run that ended %s to %s (the guide’s table)', (status, stepStatus) => {
    expect(mapStatus(withRun({ status }), TIMEOUT_MS)).toEqual({
      stepStatus,
      automationStatus: status,
      reason: `automation ${status}`,
    });
  });

  it('fails the step when the run timed out, saying how long the runner waited', () => {
    const result = mapStatus(withRun({ status: 'in_progress', finished: false, timedOut: true }), TIMEOUT_MS);

    expect(result).toEqual({
      stepStatus: 'FAILED',
      automationStatus: 'in_progress',
      reason: 'automation did not finish within 300 s',
    });
  });

  it('mentions the cancellation of a timed-out run', () => {
    const result = mapStatus(withRun({ status: 'cancelled', finished: false, timedOut: true }), TIMEOUT_MS);

    // A run the runner cancelled after its deadline is a failure, not the SKIPPED of a run cancelled in epilot.
    expect(result.stepStatus).toBe('FAILED');
    expect(result.reason).toBe('automation did not finish within 300 s; the run was cancelled');
  });

  it('fails the step with the runner’s error when a state failed', () => {
    const state = withRun({ status: 'in_progress' }, { error: { Error: 'EpilotPermanentError', Cause: 'startFlowExecution answered 403' } });

    expect(mapStatus(state, TIMEOUT_MS)).toEqual({
      stepStatus: 'FAILED',
      automationStatus: 'in_progress',
      reason: 'the runner could not finish the automation: EpilotPermanentError: startFlowExecution answered 403',
    });
  });

  it('fails the step with the error name alone when there is no cause, also before any run exists', () => {
    const state: TaskState = { workflowExecutionId: 'wf-1', taskId: 'task-1', trigger: 'sweep', error: { Error: 'States.Timeout' } };

    expect(mapStatus(state, TIMEOUT_MS)).toEqual({
      stepStatus: 'FAILED',
      automationStatus: undefined,
      reason: 'the runner could not finish the automation: States.Timeout',
    });
  });

  it('says so when the run was cancelled because the runner could no longer follow it', () => {
    const state = withRun({ status: 'cancelled' }, { error: { Error: 'EpilotPermanentError', Cause: 'getExecution answered 401' } });

    expect(mapStatus(state, TIMEOUT_MS)).toEqual({
      stepStatus: 'FAILED',
      automationStatus: 'cancelled',
      reason: 'the runner could not finish the automation: EpilotPermanentError: getExecution answered 401; the run was cancelled',
    });
  });

  it('keeps the reason of a long error cause at 1000 characters', () => {
    const state = withRun({}, { error: { Error: 'Error', Cause: 'x'.repeat(5000) } });

    expect(mapStatus(state, TIMEOUT_MS).reason).toHaveLength(1000);
  });

  it('lets an error win over a successful status', () => {
    const state = withRun({ status: 'success' }, { error: { Error: 'OwnershipLostError' } });

    expect(mapStatus(state, TIMEOUT_MS).stepStatus).toBe('FAILED');
  });

  it.each([
    ['an unknown status', 'exploded', 'automation ended in an unknown status (exploded)'],
    ['a running status', 'in_progress', 'automation ended in an unknown status (in_progress)'],
    ['an inherited property name', 'toString', 'automation ended in an unknown status (toString)'],
    ['no status', undefined, 'automation ended in an unknown status (none)'],
  ])('fails the step for %s', (_case, status, reason) => {
    expect(mapStatus(withRun({ status }), TIMEOUT_MS)).toEqual({ stepStatus: 'FAILED', automationStatus: status, reason });
  });
});
