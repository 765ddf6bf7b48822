import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { EnvNames } from '../lambdas/shared/config/settings';
import { RunnerAlarms } from './constructs/alarms';
import { acknowledgeNagFindings } from './nag-acknowledgments';
import type { DeploymentSettings } from './deployment-settings';
import { SweepStateMachine } from './constructs/sweep-state-machine';
import { TaskStateMachine } from './constructs/task-state-machine';
import { TaskTable } from './constructs/task-table';
import { WebhookReceiver } from './constructs/webhook-receiver';

export interface EpilotTaskRunnerStackProps extends StackProps {
  settings: DeploymentSettings;
}

export class EpilotTaskRunnerStack extends Stack {
  readonly table: TaskTable;
  readonly taskStateMachine: TaskStateMachine;
  readonly sweep: SweepStateMachine;
  readonly webhook: WebhookReceiver;

  constructor(scope: Construct, id: string, props: EpilotTaskRunnerStackProps) {
    super(scope, id, props);
    const { settings } = props;
    this.table = new TaskTable(this, 'TaskRecords');
    // The token never enters the template: functions get the secret's name and read it at run time.
    const tokenSecret = secretsmanager.Secret.fromSecretNameV2(this, 'EpilotApiToken', settings.epilotTokenSecretName);
    const grantEpilotAccess = (grantee: iam.IGrantable) => {
      tokenSecret.grantRead(grantee);
    };

    const environment = functionEnvironment(settings, this.table.table.tableName);
    this.taskStateMachine = new TaskStateMachine(this, 'Task', {
      settings: settings.runner,
      environment,
      table: this.table,
      grantEpilotAccess,
    });
    this.sweep = new SweepStateMachine(this, 'Sweep', {
      environment: { ...environment, [EnvNames.taskStateMachineArn]: this.taskStateMachine.stateMachine.stateMachineArn },
      table: this.table,
      taskStateMachine: this.taskStateMachine.stateMachine,
      grantEpilotAccess,
      rateMinutes: settings.sweepRateMinutes,
    });

    this.webhook = new WebhookReceiver(this, 'Webhook', {
      environment,
      table: this.table,
      taskStateMachine: this.taskStateMachine.stateMachine,
      grantEpilotAccess,
      webhookSecretName: settings.webhookSecretName,
      reservedConcurrency: settings.webhookReservedConcurrency,
    });

    new CfnOutput(this, 'WebhookUrl', {
      value: this.webhook.url.url,
      description: 'Where epilot sends its signed "trigger webhook" deliveries',
    });
    new CfnOutput(this, 'TaskStateMachineArn', { value: this.taskStateMachine.stateMachine.stateMachineArn });
    new CfnOutput(this, 'SweepStateMachineArn', { value: this.sweep.stateMachine.stateMachineArn });
    new CfnOutput(this, 'TaskTableName', { value: this.table.table.tableName });

    new RunnerAlarms(this, 'Alarms', {
      taskStateMachine: this.taskStateMachine.stateMachine,
      sweepStateMachine: this.sweep.stateMachine,
      sweepScheduled: this.sweep.schedule !== undefined,
      sweepRateMinutes: settings.sweepRateMinutes,
      functions: [...this.taskStateMachine.functions, this.sweep.detectFunction],
      webhookFunction: this.webhook.function,
    });
    acknowledgeNagFindings(this);
  }
}

function functionEnvironment(settings: DeploymentSettings, tableName: string): Record<string, string> {
  const optional: Array<[string, string | undefined]> = [
    [EnvNames.apiUrl, settings.epilotApiUrl],
    [EnvNames.entityUrl, settings.entityApiUrl],
    [EnvNames.workflowUrl, settings.workflowApiUrl],
    [EnvNames.automationUrl, settings.automationApiUrl],
  ];
  const { runner } = settings;
  return {
    [EnvNames.tokenSecretName]: settings.epilotTokenSecretName,
    [EnvNames.taskTableName]: tableName,
    [EnvNames.pollIntervalMs]: String(runner.pollIntervalMs),
    [EnvNames.pollWindowMs]: String(runner.pollWindowMs),
    [EnvNames.automationTimeoutMs]: String(runner.automationTimeoutMs),
    [EnvNames.claimLeaseMs]: String(runner.claimLeaseMs),
    [EnvNames.doneSettleMs]: String(runner.doneSettleMs),
    [EnvNames.httpTimeoutMs]: String(runner.httpTimeoutMs),
    [EnvNames.searchQuery]: runner.searchQuery,
    [EnvNames.searchPageSize]: String(runner.searchPageSize),
    ...Object.fromEntries(optional.filter((entry): entry is [string, string] => entry[1] !== undefined)),
  };
}
