import { defineFunction } from '../shared/runtime/function-definition';
import { epilotNeed } from '../shared/runtime/needs/epilot';
import { openRecordQueryNeed } from '../shared/runtime/needs/records';
import { settingsNeed } from '../shared/runtime/needs/settings';
import { taskExecutionsNeed } from '../shared/runtime/needs/task-executions';
import { createDetectTasksHandler } from './detect-tasks';

export const detectTasks = defineFunction({
  id: 'DetectTasks',
  folder: 'detect-tasks',
  stateName: 'Detect tasks',
  description: 'Searches one page of entities and starts a task execution per automation task found',
  needs: [epilotNeed, openRecordQueryNeed, taskExecutionsNeed, settingsNeed],
  create: createDetectTasksHandler,
  sizing: () => ({ timeoutSeconds: 300 }),
});
