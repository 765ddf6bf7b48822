import { defineFunction } from '../shared/runtime/function-definition';
import { createPatchStepHandler } from './patch-step';

export const patchStep = defineFunction({
  id: 'PatchStep',
  folder: 'patch-step',
  stateName: 'Patch step',
  description: 'Patches the workflow step and closes the task record',
  needs: ['taskRecords', 'epilot', 'settings'],
  create: createPatchStepHandler,
});
