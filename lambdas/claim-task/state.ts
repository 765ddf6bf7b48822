import { defineFunction } from '../shared/runtime/function-definition';
import { createClaimTaskHandler } from './claim-task';

export const claimTask = defineFunction({
  id: 'ClaimTask',
  folder: 'claim-task',
  stateName: 'Claim task',
  description: "Takes the task's record, or adopts a run already started",
  needs: ['taskRecords', 'settings'],
  create: createClaimTaskHandler,
});
