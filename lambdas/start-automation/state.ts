import { defineFunction } from '../shared/runtime/function-definition';
import { createStartAutomationHandler } from './start-automation';

export const startAutomation = defineFunction({
  id: 'StartAutomation',
  folder: 'start-automation',
  stateName: 'Start automation',
  description: 'Starts the automation run, or finds the one already started',
  needs: ['taskRecords', 'epilot', 'settings'],
  create: createStartAutomationHandler,
});
