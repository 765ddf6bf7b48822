import { runnerSettings } from '../../config/settings';
import { defineNeed } from '../function-definition';

export const settingsNeed = defineNeed('settings', ({ settings }) => ({ settings: runnerSettings(settings) }));
