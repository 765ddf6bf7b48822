import { defineFunction } from '../shared/runtime/function-definition';
import { epilotNeed } from '../shared/runtime/needs/epilot';
import { createFetchExecutionHandler } from './fetch-execution';

export const fetchExecution = defineFunction({
  id: 'FetchExecution',
  folder: 'fetch-execution',
  stateName: 'Fetch execution',
  description: 'Reads the workflow execution and picks out the task',
  needs: [epilotNeed],
  create: createFetchExecutionHandler,
});
