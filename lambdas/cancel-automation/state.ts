import { defineFunction } from '../shared/runtime/function-definition';
import { createCancelAutomationHandler } from './cancel-automation';

export const cancelAutomation = defineFunction({
  id: 'CancelAutomation',
  folder: 'cancel-automation',
  stateName: 'Cancel automation',
  description: 'Records the FAILED result, then cancels the run',
  needs: ['taskRecords', 'epilot', 'settings'],
  create: createCancelAutomationHandler,
});
