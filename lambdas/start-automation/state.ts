import { defineFunction } from '../shared/runtime/function-definition';
import { epilotNeed } from '../shared/runtime/needs/epilot';
import { taskRecordsNeed } from '../shared/runtime/needs/records';
import { settingsNeed } from '../shared/runtime/needs/settings';
import { createStartAutomationHandler } from './start-automation';

export const startAutomation = defineFunction({
  id: 'StartAutomation',
  folder: 'start-automation',
  stateName: 'Start automation',
  description: 'Starts the automation run, or finds the one already started',
  needs: [taskRecordsNeed, epilotNeed, settingsNeed],
  create: createStartAutomationHandler,
});
