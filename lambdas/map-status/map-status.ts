import { decideResult } from '../shared/domain/task-result';
import { type RunnerDeps, taskStateHandler } from '../shared/runtime/runner-deps';

/** Decides the step result, unless an earlier state (Cancel automation) already recorded one: that one stands. */
export const createMapStatusHandler = (deps: Pick<RunnerDeps, 'logger' | 'settings'>) =>
  taskStateHandler(deps.logger, async (state, { logger }) => {
    if (state.result) {
      logger.info('Keeping the recorded result', { ...state.result });
      return state;
    }
    const result = decideResult(state, deps.settings.automationTimeoutMs);
    logger.info('Mapped automation result', { ...result });
    return { ...state, result };
  });
