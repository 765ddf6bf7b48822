import { defineFunction } from '../shared/runtime/function-definition';
import { createDetectTasksHandler } from './detect-tasks';

export const detectTasks = defineFunction({
  id: 'DetectTasks',
  folder: 'detect-tasks',
  stateName: 'Detect tasks',
  description: 'Searches one page of entities and starts a task execution per automation task found',
  needs: ['epilot', 'openRecordQuery', 'taskExecutions', 'settings'],
  create: createDetectTasksHandler,
  sizing: () => ({ timeoutSeconds: 300 }),
});
