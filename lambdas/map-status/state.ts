import { defineFunction } from '../shared/runtime/function-definition';
import { settingsNeed } from '../shared/runtime/needs/settings';
import { createMapStatusHandler } from './map-status';

export const mapStatus = defineFunction({
  id: 'MapStatus',
  folder: 'map-status',
  stateName: 'Map status',
  description: 'Maps the automation result to the step status',
  needs: [settingsNeed],
  create: createMapStatusHandler,
});
