import { Template } from 'aws-cdk-lib/assertions';
import { envName, settingsIn } from '../../lambdas/shared/config/settings';
import { needNames, resourcesOf, settingGroupsOf } from '../../lambdas/shared/runtime/function-definition';
import { ALL_FUNCTIONS } from '../../lambdas/states';
import { deploymentSettings } from '../../lib/deployment-settings';
import { EpilotTaskRunnerStack } from '../../lib/stack';
import { createLocalApp } from '../../local/emulator/synthesized-definitions';

/** Every variable the Lambda runtime or Powertools reads regardless of needs. */
const ALWAYS = ['NODE_OPTIONS', 'POWERTOOLS_SERVICE_NAME', 'AWS_NODEJS_CONNECTION_REUSE_ENABLED'];

const app = createLocalApp();
const settings = deploymentSettings({ epilotApiUrl: 'https://proxy.example', webhookReservedConcurrency: '3' });
const stack = new EpilotTaskRunnerStack(app, 'EpilotTaskRunner', { settings });
const template = Template.fromStack(stack);
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;

interface FunctionResource {
  Properties: { Description: string; Environment: { Variables: Record<string, unknown> }; Role: { 'Fn::GetAtt': [string, string] } };
}
const functionFor = (description: string): FunctionResource => {
  const found = Object.values(resources).filter(
    (resource) => resource.Type === 'AWS::Lambda::Function' && resource.Properties.Description === description,
  );
  if (found.length !== 1) throw new Error(`${found.length} functions described as "${description}"`);
  return found[0] as unknown as FunctionResource;
};

/** The IAM actions of the policies attached to a function's role. */
const actionsOf = (fn: FunctionResource): string[] => {
  const [role] = fn.Properties.Role['Fn::GetAtt'];
  return Object.values(resources)
    .filter(
      (resource) =>
        resource.Type === 'AWS::IAM::Policy' && (resource.Properties.Roles as Array<{ Ref?: string }>).some((ref) => ref.Ref === role),
    )
    .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: Array<{ Action: string | string[] }> }).Statement)
    .flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]))
    .sort();
};

describe('functions created from the registry', () => {
  it('creates exactly one Lambda per registry entry', () => {
    const runnerFunctions = Object.values(resources).filter(
      (resource) => resource.Type === 'AWS::Lambda::Function' && resource.Properties.Handler === 'index.handler',
    );
    expect(runnerFunctions).toHaveLength(ALL_FUNCTIONS.length);
  });

  it.each(ALL_FUNCTIONS.map((definition) => [definition.id, definition] as const))(
    'gives %s exactly the environment variables its needs imply',
    (_id, definition) => {
      const variables = Object.keys(functionFor(definition.description).Properties.Environment.Variables).filter(
        (name) => !ALWAYS.includes(name),
      );
      // Optional settings left unset (the per-API URLs here) have no variable.
      const expected = settingsIn(settingGroupsOf(needNames(definition)))
        .filter((name) => settings[name] !== undefined)
        .map(envName);

      expect(variables.sort()).toEqual([...expected, ...resourcesOf(needNames(definition))].sort());
    },
  );

  it.each(ALL_FUNCTIONS.map((definition) => [definition.id, definition] as const))(
    'grants %s only the actions its needs imply',
    (_id, definition) => {
      const needs = new Set<string>(needNames(definition));
      const expected = [
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
        ...(needs.has('epilot') ? ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'] : []),
        ...(needs.has('webhookSecret') ? ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'] : []),
        ...(needs.has('taskRecords') || needs.has('openRecordQuery') || needs.has('deliveryRecords')
          ? ['dynamodb:GetItem', 'dynamodb:PutItem']
          : []),
        ...(needs.has('openRecordQuery') ? ['dynamodb:Query'] : []),
        ...(needs.has('taskExecutions') ? ['states:DescribeExecution', 'states:StartExecution'] : []),
      ];

      expect([...new Set(actionsOf(functionFor(definition.description)))]).toEqual([...new Set(expected)].sort());
    },
  );

  it('sizes functions from the settings: the webhook receiver’s reserved concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: ALL_FUNCTIONS.find((definition) => definition.folder === 'webhook')?.description,
      ReservedConcurrentExecutions: 3,
    });
  });
});
