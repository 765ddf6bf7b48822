import { parseSettings, SETTING_NAMES, type Settings } from '../lambdas/shared/config/settings';

/**
 * What a deployment can choose: every setting (lambdas/shared/config/settings.ts), from CDK context
 * (`cdk deploy -c pollIntervalMs=2000`) or stack props. A bad value fails the synth naming the context key.
 */
export type DeploymentSettings = Settings;

export const DEPLOYMENT_SETTING_KEYS = SETTING_NAMES;

export function deploymentSettings(input: Record<string, unknown>): DeploymentSettings {
  return parseSettings(input, 'deployment setting (CDK context or props)');
}
