import { pollCallSeconds } from '../shared/config/settings';
import { defineFunction } from '../shared/runtime/function-definition';
import { epilotNeed } from '../shared/runtime/needs/epilot';
import { settingsNeed } from '../shared/runtime/needs/settings';
import { createGetAutomationStatusHandler } from './get-automation-status';

export const getAutomationStatus = defineFunction({
  id: 'GetAutomationStatus',
  folder: 'get-automation-status',
  stateName: 'Get automation status',
  description: 'Polls the automation run every interval for up to the poll window',
  needs: [epilotNeed, settingsNeed],
  create: createGetAutomationStatusHandler,
  // One invocation polls for up to the poll window; its timeout leaves room for the last, slow HTTP call.
  sizing: (settings) => ({
    memoryMb: 128,
    timeoutSeconds: pollCallSeconds(settings),
  }),
});
