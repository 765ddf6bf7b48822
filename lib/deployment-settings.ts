import { InvalidSettingsError, parseSettings, SETTING_NAMES, type Settings } from '../lambdas/shared/config/settings';

/**
 * What a deployment can choose: every setting (lambdas/shared/config/settings.ts), from CDK context
 * (`cdk deploy -c pollIntervalMs=2000`) or stack props. A bad value fails the synth naming the context key.
 */
export type DeploymentSettings = Settings;

export const DEPLOYMENT_SETTING_KEYS = SETTING_NAMES;

export function deploymentSettings(input: Record<string, unknown>): DeploymentSettings {
  const settings = parseSettings(input, 'deployment setting (CDK context or props)');
  // Refused here, not in the shared settings: the local runner serves webhooks without a schedule on purpose. A
  // deployment has nothing else that resumes the records of executions that died, so they would wait forever.
  if (settings.sweepRateMinutes === 0) {
    throw new InvalidSettingsError(
      'Invalid configuration: deployment setting (CDK context or props) sweepRateMinutes: must be at least 1; ' +
        'the scheduled sweep is what resumes the tasks of executions that died',
    );
  }
  return settings;
}
