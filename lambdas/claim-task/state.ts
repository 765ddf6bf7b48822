import { defineFunction } from '../shared/runtime/function-definition';
import { taskRecordsNeed } from '../shared/runtime/needs/records';
import { settingsNeed } from '../shared/runtime/needs/settings';
import { createClaimTaskHandler } from './claim-task';

export const claimTask = defineFunction({
  id: 'ClaimTask',
  folder: 'claim-task',
  stateName: 'Claim task',
  description: "Takes the task's record, or adopts a run already started",
  needs: [taskRecordsNeed, settingsNeed],
  create: createClaimTaskHandler,
});
