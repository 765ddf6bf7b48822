import { defineFunction } from '../shared/runtime/function-definition';
import { createFetchExecutionHandler } from './fetch-execution';

export const fetchExecution = defineFunction({
  id: 'FetchExecution',
  folder: 'fetch-execution',
  stateName: 'Fetch execution',
  description: 'Reads the workflow execution and picks out the task',
  needs: ['epilot'],
  create: createFetchExecutionHandler,
});
