import { defineFunction } from '../shared/runtime/function-definition';
import { epilotNeed } from '../shared/runtime/needs/epilot';
import { taskRecordsNeed } from '../shared/runtime/needs/records';
import { settingsNeed } from '../shared/runtime/needs/settings';
import { createCancelAutomationHandler } from './cancel-automation';

export const cancelAutomation = defineFunction({
  id: 'CancelAutomation',
  folder: 'cancel-automation',
  stateName: 'Cancel automation',
  description: 'Records the FAILED result, then cancels the run',
  needs: [taskRecordsNeed, epilotNeed, settingsNeed],
  create: createCancelAutomationHandler,
});
