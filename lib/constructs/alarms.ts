import { CfnOutput, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export interface RunnerAlarmsProps {
  taskStateMachine: sfn.StateMachine;
  sweepStateMachine: sfn.StateMachine;
  /** Whether the sweep runs on a schedule; without one, "sweep not running" would always alarm. */
  sweepScheduled: boolean;
  /** Minutes between two scheduled sweeps (the "sweep not running" window is at least 15 minutes and 3 rates). */
  sweepRateMinutes?: number;
  /** The runner's Lambda functions; their errors and throttles are summed. */
  functions: lambda.IFunction[];
  /** The webhook receiver, when deployed: its errors, throttles and Function URL answers get alarms of their own. */
  webhookFunction?: lambda.IFunction;
}

/** CloudWatch metric math accepts at most 10 metrics per alarm: the functions are summed in groups of 10. */
const METRICS_PER_ALARM = 10;

/**
 * The runner's alarms, all notifying one SNS topic. Subscribe your on-call e-mail, chat or pager to
 * `AlarmTopicArn` (a stack output).
 */
export class RunnerAlarms extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: RunnerAlarmsProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'epilot-task-runner alarms',
      masterKey: kms.Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
    const period = Duration.minutes(5);
    const sum = { period, statistic: cloudwatch.Stats.SUM };
    const atLeastOnce = {
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    };
    const { taskStateMachine: task, sweepStateMachine: sweep } = props;

    this.add('TaskExecutionsFailed', {
      ...atLeastOnce,
      metric: task.metricFailed(sum),
      alarmDescription:
        'A task execution failed: a workflow step may not have been patched. Open the failed executions of the task ' +
        'state machine in the Step Functions console, read the error of the last state; the next sweep retries the task.',
    });
    this.add('TaskExecutionsTimedOut', {
      ...atLeastOnce,
      metric: task.metricTimedOut(sum),
      alarmDescription:
        'A task execution timed out: its workflow step may be left in progress. Check the execution history in the ' +
        'Step Functions console and whether the epilot automation API is slow or down; the next sweep retries the task.',
    });
    this.add('SweepExecutionsFailed', {
      ...atLeastOnce,
      metric: sweep.metricFailed(sum),
      alarmDescription:
        'A sweep failed: automation tasks may be waiting. Open the failed sweep execution in the Step Functions ' +
        'console; "Detect tasks" errors usually mean a wrong or expired epilot API token or an epilot outage.',
    });
    if (props.sweepScheduled) {
      const window = Duration.minutes(Math.max(15, 3 * (props.sweepRateMinutes ?? 5)));
      this.add('SweepNotRunning', {
        metric: sweep.metricStarted({ period: window, statistic: cloudwatch.Stats.SUM }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        alarmDescription:
          `No sweep started in ${window.toMinutes()} minutes: new automation tasks are not being picked up. Check ` +
          'that the EventBridge schedule rule of the sweep is enabled and that it may start the state machine.',
      });
    }

    const groups: lambda.IFunction[][] = [];
    for (let i = 0; i < props.functions.length; i += METRICS_PER_ALARM) {
      groups.push(props.functions.slice(i, i + METRICS_PER_ALARM));
    }
    groups.forEach((group, index) => {
      const suffix = groups.length > 1 ? String(index + 1) : '';
      const total = (label: string, metric: (fn: lambda.IFunction) => cloudwatch.IMetric) =>
        new cloudwatch.MathExpression({
          expression: group.map((_, i) => `m${i}`).join(' + '),
          usingMetrics: Object.fromEntries(group.map((fn, i) => [`m${i}`, metric(fn)])),
          label,
          period,
        });
      this.add(`LambdaErrors${suffix}`, {
        ...atLeastOnce,
        metric: total('Lambda errors', (fn) => fn.metricErrors(sum)),
        alarmDescription:
          "A runner Lambda function threw: a state's retries or catches handled it, or its execution failed. Find the " +
          'function with errors in the Lambda console (Monitor) and read its JSON logs in CloudWatch Logs.',
      });
      this.add(`LambdaThrottles${suffix}`, {
        ...atLeastOnce,
        metric: total('Lambda throttles', (fn) => fn.metricThrottles(sum)),
        alarmDescription:
          'A runner Lambda function was throttled: executions slow down and may fail after their retries. Check the ' +
          "account's Lambda concurrency (Service Quotas) and lower the sweep's concurrency or raise the quota.",
      });
    });

    const webhook = props.webhookFunction;
    if (webhook) {
      this.add('WebhookErrors', {
        ...atLeastOnce,
        metric: webhook.metricErrors(sum),
        alarmDescription: 'The epilot webhook receiver failed (epilot retries; the sweep catches up). Read its JSON logs.',
      });
      this.add('WebhookThrottles', {
        ...atLeastOnce,
        metric: webhook.metricThrottles(sum),
        alarmDescription: 'The epilot webhook receiver is throttled at its reserved concurrency (a flood of deliveries?).',
      });
      this.add('WebhookRefusedDeliveries', {
        ...atLeastOnce,
        threshold: 20,
        metric: webhook.metric('Url4xxCount', sum),
        alarmDescription:
          'Many webhook deliveries were refused (4xx): check the signing secret in epilot and in Secrets Manager, or ' +
          'look for a probe of the URL.',
      });
      this.add('WebhookServerErrors', {
        ...atLeastOnce,
        metric: webhook.metric('Url5xxCount', sum),
        alarmDescription: 'The webhook receiver answered 5xx: epilot retries, but read the receiver logs.',
      });
    }

    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.topic.topicArn,
      description: 'SNS topic of the runner alarms: subscribe your e-mail, chat or pager to it',
    }).overrideLogicalId('AlarmTopicArn');
  }

  private add(id: string, props: cloudwatch.AlarmProps): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, props);
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    this.alarms.push(alarm);
    return alarm;
  }
}
