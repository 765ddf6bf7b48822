import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { RunnerAlarms } from './constructs/alarms';
import { acknowledgeNagFindings } from './nag-acknowledgments';
import type { DeploymentSettings } from './deployment-settings';
import { SweepStateMachine } from './constructs/sweep-state-machine';
import { TaskStateMachine } from './constructs/task-state-machine';
import { TaskTable } from './constructs/task-table';
import type { NeedBindings } from './constructs/runner-function';
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
    // The secrets never enter the template: functions get their names and read them at run time.
    const bindings: NeedBindings = {
      settings,
      table: this.table,
      tokenSecret: secretsmanager.Secret.fromSecretNameV2(this, 'EpilotApiToken', settings.epilotTokenSecretName),
      webhookSecret: secretsmanager.Secret.fromSecretNameV2(this, 'WebhookSecret', settings.webhookSecretName),
    };
    this.taskStateMachine = new TaskStateMachine(this, 'Task', { bindings });
    const triggers = { bindings: { ...bindings, taskStateMachine: this.taskStateMachine.stateMachine } };
    this.sweep = new SweepStateMachine(this, 'Sweep', triggers);
    this.webhook = new WebhookReceiver(this, 'Webhook', triggers);

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
