import { createLogger } from '../shared/logger';
import { runnerSettings } from '../shared/config/settings';
import type { TaskState } from '../shared/domain/task-state';
import { createMapStatusHandler } from './map-status';

const mapStatus = createMapStatusHandler({ logger: createLogger({ logLevel: 'SILENT' }), settings: runnerSettings() });

function event(state: Partial<TaskState>) {
  return {
    execution: 'execution-1',
    state: {
      workflowExecutionId: 'wf-1',
      taskId: 'task-1',
      trigger: 'sweep',
      run: { executionId: 'run-1', status: 'cancelled', adopted: false, polls: 3, finished: false, timedOut: true },
      ...state,
    },
  };
}

// The mapping itself is tested with decideResult in lambdas/shared/domain/task-result.test.ts.
describe('Map status', () => {
  it('passes on the result Cancel automation recorded, unchanged', async () => {
    const recorded = {
      stepStatus: 'FAILED',
      automationStatus: 'cancelled',
      reason: 'automation did not finish within 300 s; the run was cancelled',
    } as const;

    const result = await mapStatus(event({ result: recorded }));

    expect(result.result).toEqual(recorded);
  });

  it('decides the result when the state carries none', async () => {
    const result = await mapStatus(event({}));

    expect(result.result).toEqual({
      stepStatus: 'FAILED',
      automationStatus: 'cancelled',
      reason: 'automation did not finish within 300 s; the run was cancelled',
    });
  });
});
