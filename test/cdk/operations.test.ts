import { Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { deploymentSettings } from '../../lib/deployment-settings';
import { EpilotTaskRunnerStack } from '../../lib/stack';
import { SWEEP_FUNCTIONS, TASK_FUNCTIONS } from '../../lambdas/states';
import { createLocalApp } from '../../local/emulator/synthesized-definitions';

function build(context: Record<string, unknown> = {}, env?: { account: string; region: string }) {
  const app = createLocalApp();
  const stack = new EpilotTaskRunnerStack(app, 'EpilotTaskRunner', {
    settings: deploymentSettings({ epilotTokenSecretName: 'my/epilot-token', ...context }),
    ...(env ? { env } : {}),
  });
  return { app, stack };
}

const { app, stack } = build();
const template = Template.fromStack(stack);
const topicIds = Object.keys(template.findResources('AWS::SNS::Topic'));
const topicRef = { Ref: topicIds[0] ?? 'no topic' };
const alarmWithMetric = (metricName: string, namespace: string) =>
  Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter(
    (alarm) => alarm.Properties.MetricName === metricName && alarm.Properties.Namespace === namespace,
  );

describe('alarm topic', () => {
  it('is encrypted with the AWS-managed SNS key, refuses plain HTTP and is a stack output', () => {
    expect(topicIds).toHaveLength(1);
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::Join': ['', Match.arrayWith([':alias/aws/sns'])] },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
    template.hasOutput('AlarmTopicArn', { Value: topicRef });
  });

  it('is the action of every alarm, with a description', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(10);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([topicRef]);
      expect(alarm.Properties.AlarmDescription).toEqual(expect.any(String));
    }
  });
});

describe('alarms', () => {
  it('are exactly these ten, by construct and metric', () => {
    const alarms = Object.entries(template.findResources('AWS::CloudWatch::Alarm')).map(([logicalId, alarm]) => {
      const properties = alarm.Properties as {
        MetricName?: string;
        Namespace?: string;
        Metrics?: Array<{ MetricStat?: { Metric: { MetricName: string; Namespace: string } } }>;
      };
      // The runner functions' Errors/Throttles alarms are metric math over one metric per function.
      const metrics = properties.MetricName
        ? [`${properties.Namespace}/${properties.MetricName}`]
        : [
            ...new Set(
              (properties.Metrics ?? []).flatMap((m) =>
                m.MetricStat ? [`${m.MetricStat.Metric.Namespace}/${m.MetricStat.Metric.MetricName}`] : [],
              ),
            ),
          ];
      return [logicalId.replace(/[0-9A-F]{8}$/, ''), metrics.join(',')];
    });
    expect(Object.fromEntries(alarms)).toEqual({
      AlarmsTaskExecutionsFailed: 'AWS/States/ExecutionsFailed',
      AlarmsTaskExecutionsTimedOut: 'AWS/States/ExecutionsTimedOut',
      AlarmsSweepExecutionsFailed: 'AWS/States/ExecutionsFailed',
      AlarmsSweepNotRunning: 'AWS/States/ExecutionsStarted',
      AlarmsLambdaErrors: 'AWS/Lambda/Errors',
      AlarmsLambdaThrottles: 'AWS/Lambda/Throttles',
      AlarmsWebhookErrors: 'AWS/Lambda/Errors',
      AlarmsWebhookThrottles: 'AWS/Lambda/Throttles',
      AlarmsWebhookRefusedDeliveries: 'AWS/Lambda/Url4xxCount',
      AlarmsWebhookServerErrors: 'AWS/Lambda/Url5xxCount',
    });
    expect(alarms).toHaveLength(10);
  });

  it('fire on a failed or timed-out task execution and a failed sweep', () => {
    const failed = alarmWithMetric('ExecutionsFailed', 'AWS/States');
    expect(failed).toHaveLength(2);
    const timedOut = alarmWithMetric('ExecutionsTimedOut', 'AWS/States');
    expect(timedOut).toHaveLength(1);
    for (const alarm of [...failed, ...timedOut]) {
      expect(alarm.Properties).toMatchObject({
        Threshold: 1,
        Period: 300,
        Statistic: 'Sum',
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
    const arns = failed.map((alarm) => JSON.stringify(alarm.Properties.Dimensions));
    expect(arns.some((arn) => arn.includes('TaskStateMachine'))).toBe(true);
    expect(arns.some((arn) => arn.includes('SweepStateMachine'))).toBe(true);
  });

  it('fire when no sweep started in 15 minutes, missing data counting as none', () => {
    const [notRunning, ...others] = alarmWithMetric('ExecutionsStarted', 'AWS/States');
    expect(others).toHaveLength(0);
    expect(notRunning?.Properties).toMatchObject({
      Threshold: 1,
      Period: 900,
      Statistic: 'Sum',
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
    expect(JSON.stringify(notRunning?.Properties.Dimensions)).toContain('SweepStateMachine');
  });

  it('leave out "sweep not running" when the sweep has no schedule (settings given directly, as the local runner does)', () => {
    // Deployments refuse sweepRateMinutes 0 (deploymentSettings); a stack built from settings directly may have it.
    const settings = { ...deploymentSettings({ epilotTokenSecretName: 'my/epilot-token' }), sweepRateMinutes: 0 };
    const unscheduled = Template.fromStack(new EpilotTaskRunnerStack(createLocalApp(), 'EpilotTaskRunner', { settings }));
    const started = Object.values(unscheduled.findResources('AWS::CloudWatch::Alarm')).filter(
      (alarm) => alarm.Properties.MetricName === 'ExecutionsStarted',
    );
    expect(started).toHaveLength(0);
  });

  it('sum the errors and the throttles of every task and sweep function', () => {
    const last = Object.keys(TASK_FUNCTIONS).length + Object.keys(SWEEP_FUNCTIONS).length - 1;
    for (const metricName of ['Errors', 'Throttles']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [topicRef],
        Metrics: Match.arrayWith([
          Match.objectLike({ Expression: Match.stringLikeRegexp(`^m0 \\+ m1 \\+ .*m${last}$`) }),
          Match.objectLike({
            MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: metricName, Namespace: 'AWS/Lambda' }) }),
          }),
        ]),
      });
    }
  });

  it("notify the topic of the webhook receiver's alarms too", () => {
    const lambdaAlarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter(
      (alarm) => alarm.Properties.Namespace === 'AWS/Lambda',
    );
    expect(lambdaAlarms).toHaveLength(4);
    for (const alarm of lambdaAlarms) expect(alarm.Properties.AlarmActions).toEqual([topicRef]);
  });
});

describe('cdk-nag AwsSolutions', () => {
  it.each([
    ['an environment-agnostic stack', undefined],
    ['a stack for one account and region (what `cdk synth` makes from the CLI defaults)', { account: '123456789012', region: 'us-east-1' }],
  ])('reports no unacknowledged finding for %s', (_case, env) => {
    const built = env ? build({}, env) : { app, stack };
    const report = new AwsSolutionsChecks(built.app).validateScope(built.stack);
    const findings = report.violations.map(
      (violation) => `${violation.ruleName}: ${violation.violatingResources.map((resource) => resource.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('acknowledges every finding with a reason, on the construct concerned, never stack-wide', () => {
    const acknowledgments = stack.node
      .findAll()
      .flatMap((construct) =>
        construct.node.metadata
          .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          .flatMap((entry) => Object.entries(entry.data as Record<string, unknown>).map(([id, reason]) => ({ construct, id, reason }))),
      );
    expect(acknowledgments.length).toBeGreaterThan(0);
    for (const { construct, id, reason } of acknowledgments) {
      expect(construct).not.toBe(stack);
      expect(id).toMatch(/^(Annotation::)?AwsSolutions-/i);
      expect(JSON.stringify(reason).length).toBeGreaterThan(30);
    }
  });

  it('still reports what a new resource gets wrong', () => {
    const fresh = build().stack;
    new sqs.Queue(fresh, 'Unchecked');
    const report = new AwsSolutionsChecks(fresh).validateScope(fresh);
    expect(report.violations.map((violation) => violation.ruleName)).toEqual(expect.arrayContaining(['AwsSolutions-SQS3']));
  });
});
