import type { AutomationRun } from '../shared/epilot/automation-api';
import { decideStart } from './start-automation';

const SETTLE = 180_000;
const ATTEMPT = Date.parse('2026-05-01T10:00:00Z');

const run = (id: string): AutomationRun => ({
  id,
  status: 'in_progress',
  flowId: 'flow-1',
  entityId: 'entity-1',
  createdAt: new Date(ATTEMPT + 2000).toISOString(),
  workflowExecutionId: 'wf-1',
  taskId: 'task-1',
});

describe('decideStart', () => {
  it('starts when no start was attempted', () => {
    expect(decideStart({ startAttemptedAt: undefined, now: ATTEMPT, startSettleMs: SETTLE, found: [] })).toEqual({ action: 'start' });
  });

  it('adopts the newest run found after an attempt, even inside the window', () => {
    const found = [run('newest'), run('older')];

    expect(decideStart({ startAttemptedAt: ATTEMPT, now: ATTEMPT + 1000, startSettleMs: SETTLE, found })).toEqual({
      action: 'adopt',
      run: found[0],
    });
  });

  it('adopts a run found after the window rather than starting again', () => {
    const found = [run('late')];

    expect(decideStart({ startAttemptedAt: ATTEMPT, now: ATTEMPT + SETTLE + 60_000, startSettleMs: SETTLE, found })).toMatchObject({
      action: 'adopt',
      run: { id: 'late' },
    });
  });

  it('waits (does not start) when nothing is found while the attempt is younger than startSettleMs', () => {
    expect(decideStart({ startAttemptedAt: ATTEMPT, now: ATTEMPT, startSettleMs: SETTLE, found: [] })).toEqual({ action: 'wait' });
    expect(decideStart({ startAttemptedAt: ATTEMPT, now: ATTEMPT + SETTLE - 1, startSettleMs: SETTLE, found: [] })).toEqual({
      action: 'wait',
    });
  });

  it('starts again when nothing is found once startSettleMs has passed since the attempt', () => {
    expect(decideStart({ startAttemptedAt: ATTEMPT, now: ATTEMPT + SETTLE, startSettleMs: SETTLE, found: [] })).toEqual({
      action: 'startAgain',
    });
  });
});
