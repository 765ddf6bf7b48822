import { runnerSettingsOf } from '../../config/settings';
import { defineNeed } from '../function-definition';

export const settingsNeed = defineNeed('settings', ({ settings }) => ({ settings: runnerSettingsOf(settings) }));
