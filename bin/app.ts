#!/usr/bin/env node
import * as cdk from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DEPLOYMENT_SETTING_KEYS, deploymentSettings } from '../lib/deployment-settings';
import { EpilotTaskRunnerStack } from '../lib/stack';

const app = new cdk.App();
// cdk-nag 3 is a policy-validation plugin: unacknowledged AwsSolutions findings fail `cdk synth` and `cdk deploy`.
cdk.Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
const settings = deploymentSettings(
  Object.fromEntries(DEPLOYMENT_SETTING_KEYS.map((key) => [key, app.node.tryGetContext(key) as unknown])),
);
const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? 'EpilotTaskRunner';
new EpilotTaskRunnerStack(app, stackName, {
  settings,
  description: 'epilot-task-runner: runs epilot workflow task automations',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
