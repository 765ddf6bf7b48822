import { defineFunction } from '../shared/runtime/function-definition';
import { createMapStatusHandler } from './map-status';

export const mapStatus = defineFunction({
  id: 'MapStatus',
  folder: 'map-status',
  stateName: 'Map status',
  description: 'Maps the automation result to the step status',
  needs: ['settings'],
  create: createMapStatusHandler,
});
