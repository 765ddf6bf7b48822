import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { EnvNames } from '../lambdas/shared/settings';
import { RunnerFunction } from './runner-function';
import type { TaskTable } from './task-table';

export interface WebhookReceiverProps {
  environment: Record<string, string>;
  table: TaskTable;
  taskStateMachine: sfn.IStateMachine;
  grantEpilotAccess: (grantee: iam.IGrantable) => void;
  /** Secrets Manager secret with the Standard Webhooks signing secret (`whsec_…`); only its name is in the template. */
  webhookSecretName: string;
  /** Reserved concurrency: caps what a flood of deliveries can cost; 0 reserves none. */
  reservedConcurrency: number;
}

/**
 * epilot's push trigger: a Lambda Function URL (auth NONE — the Standard Webhooks signature is the authentication,
 * checked before the body is parsed) that detects automation tasks on the delivered entity and starts task
 * executions, exactly as the sweep does.
 */
export class WebhookReceiver extends Construct {
  readonly function: RunnerFunction;
  readonly url: lambda.FunctionUrl;
  readonly errorsAlarm: cloudwatch.Alarm;
  readonly throttlesAlarm: cloudwatch.Alarm;
  /** On the Function URL's answers: many 4xx mean a wrong secret or a probe; any 5xx means lost deliveries. */
  readonly responseAlarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: WebhookReceiverProps) {
    super(scope, id);
    const secret = secretsmanager.Secret.fromSecretNameV2(this, 'WebhookSecret', props.webhookSecretName);
    this.function = new RunnerFunction(this, 'Function', {
      handlerDirectory: 'webhook',
      description: 'Receives signed epilot webhooks and starts a task execution per automation task of the entity',
      environment: {
        ...props.environment,
        [EnvNames.webhookSecretName]: props.webhookSecretName,
        [EnvNames.taskStateMachineArn]: props.taskStateMachine.stateMachineArn,
      },
      timeout: Duration.seconds(29),
    });
    if (props.reservedConcurrency > 0) {
      (this.function.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions = props.reservedConcurrency;
    }
    secret.grantRead(this.function);
    props.grantEpilotAccess(this.function);
    props.table.grantRecordAccess(this.function);
    props.taskStateMachine.grantStartExecution(this.function);

    this.url = this.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });

    const period = Duration.minutes(5);
    this.errorsAlarm = new cloudwatch.Alarm(this, 'ErrorsAlarm', {
      alarmDescription: 'The epilot webhook receiver failed (epilot retries; the sweep catches up)',
      metric: this.function.metricErrors({ period, statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.throttlesAlarm = new cloudwatch.Alarm(this, 'ThrottlesAlarm', {
      alarmDescription: 'The epilot webhook receiver is throttled at its reserved concurrency (a flood of deliveries?)',
      metric: this.function.metricThrottles({ period, statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const urlAlarm = (id: string, metricName: string, threshold: number, alarmDescription: string) =>
      new cloudwatch.Alarm(this, id, {
        alarmDescription,
        metric: this.function.metric(metricName, { period, statistic: cloudwatch.Stats.SUM }),
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    this.responseAlarms = [
      urlAlarm(
        'ClientErrorsAlarm',
        'Url4xxCount',
        20,
        'Many webhook deliveries were refused (4xx): check the signing secret in epilot and in Secrets Manager, or look for a probe',
      ),
      urlAlarm(
        'ServerErrorsAlarm',
        'Url5xxCount',
        1,
        'The webhook receiver answered 5xx: epilot retries, but check the receiver logs',
      ),
    ];
  }
}
