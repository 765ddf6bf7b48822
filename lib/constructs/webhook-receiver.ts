import { Duration } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { EnvNames } from '../../lambdas/shared/config/settings';
import { RunnerFunction } from './runner-function';
import { grantStartingTaskExecutions } from './task-state-machine';
import type { TaskTable } from './task-table';

export interface WebhookReceiverProps {
  environment: Record<string, string>;
  table: TaskTable;
  taskStateMachine: sfn.StateMachine;
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
      ...(props.reservedConcurrency > 0 ? { reservedConcurrentExecutions: props.reservedConcurrency } : {}),
    });
    secret.grantRead(this.function);
    props.grantEpilotAccess(this.function);
    props.table.grantRecordAccess(this.function);
    grantStartingTaskExecutions(props.taskStateMachine, this.function);

    this.url = this.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
  }
}
