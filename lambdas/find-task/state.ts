import { defineFunction } from '../shared/runtime/function-definition';
import { createFindTaskHandler } from './find-task';

export const findTask = defineFunction({
  id: 'FindTask',
  folder: 'find-task',
  stateName: 'Find task',
  description: 'Decides whether the task needs its automation run',
  needs: [],
  create: createFindTaskHandler,
});
