import { defineFunction } from '../shared/runtime/function-definition';
import { epilotNeed } from '../shared/runtime/needs/epilot';
import { taskRecordsNeed } from '../shared/runtime/needs/records';
import { settingsNeed } from '../shared/runtime/needs/settings';
import { createPatchStepHandler } from './patch-step';

export const patchStep = defineFunction({
  id: 'PatchStep',
  folder: 'patch-step',
  stateName: 'Patch step',
  description: 'Patches the workflow step and closes the task record',
  needs: [taskRecordsNeed, epilotNeed, settingsNeed],
  create: createPatchStepHandler,
});
