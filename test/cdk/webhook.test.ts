import { Match, Template } from 'aws-cdk-lib/assertions';
import { deploymentSettings } from '../../lib/deployment-settings';
import { EpilotTaskRunnerStack } from '../../lib/stack';
import { createLocalApp } from '../../local/emulator/synthesized-definitions';

function synth(context: Record<string, unknown> = {}) {
  const app = createLocalApp();
  const stack = new EpilotTaskRunnerStack(app, 'EpilotTaskRunner', { settings: deploymentSettings(context) });
  return Template.fromStack(stack);
}

const template = synth();
const webhookFunction = () => {
  const found = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([logicalId]) =>
    logicalId.startsWith('WebhookFunction'),
  );
  expect(found).toHaveLength(1);
  const [entry] = found;
  if (!entry) throw new Error('no webhook function');
  return { logicalId: entry[0], properties: entry[1].Properties as Record<string, unknown> };
};

describe('webhook receiver', () => {
  it('is a Function URL without IAM auth (the signature is the auth), and its URL is a stack output', () => {
    const { logicalId } = webhookFunction();
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      TargetFunctionArn: { 'Fn::GetAtt': [logicalId, 'Arn'] },
    });
    template.hasOutput('WebhookUrl', { Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^WebhookFunctionFunctionUrl'), 'FunctionUrl'] } });
  });

  it('reserves no concurrency by default (deploys on any account quota), and what webhookReservedConcurrency says', () => {
    expect(webhookFunction().properties.ReservedConcurrentExecutions).toBeUndefined();
    const custom = synth({ webhookReservedConcurrency: '3' });
    custom.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 3 });
  });

  it('gets the webhook secret name (default and configured), never a secret', () => {
    expect(webhookFunction().properties.Environment).toMatchObject({
      Variables: {
        WEBHOOK_SECRET_NAME: 'epilot-task-runner/webhook-secret',
        TASK_STATE_MACHINE_ARN: { Ref: expect.stringMatching(/^TaskStateMachine/) },
      },
    });
    synth({ webhookSecretName: 'my/webhook' }).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ WEBHOOK_SECRET_NAME: 'my/webhook' }) },
    });
    expect(JSON.stringify(template.toJSON())).not.toMatch(/whsec_/);
  });

  it('may read both secrets, the records and start task executions', () => {
    const role = (webhookFunction().properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
      (policy.Properties.Roles as Array<{ Ref: string }>).some((ref) => ref.Ref === role),
    );
    // Without any policy on its role the `toContain`s below would read an empty document.
    expect(policies).toHaveLength(1);
    const document = JSON.stringify(policies.map((policy) => policy.Properties.PolicyDocument));
    expect(document).toContain('states:StartExecution');
    expect(document).toContain('dynamodb:GetItem');
    expect(document).toContain('dynamodb:PutItem');
    expect(document).toContain('epilot-task-runner/webhook-secret');
    expect(document).toContain('epilot-task-runner/api-token');
  });

  it('alarms on the Function URL’s 4xx and 5xx answers', () => {
    for (const [metricName, threshold] of [
      ['Url4xxCount', 20],
      ['Url5xxCount', 1],
    ] as const) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: metricName,
        Threshold: threshold,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp('^WebhookFunction') } }],
        AlarmActions: Match.anyValue(),
      });
    }
  });

  it('alarms on errors and on throttles of the function', () => {
    const { logicalId } = webhookFunction();
    for (const metric of ['Errors', 'Throttles']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: metric,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId } }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
  });
});
