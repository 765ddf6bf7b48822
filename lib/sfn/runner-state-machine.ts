import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

/**
 * The runner's state machines share their shape: Standard (history in the console), JSONPath (what the local
 * runner executes), X-Ray, and error-level execution logs kept a month.
 */
export function createRunnerStateMachine(
  scope: Construct,
  props: { comment: string; definition: sfn.IChainable; timeout?: Duration },
): sfn.StateMachine {
  return new sfn.StateMachine(scope, 'StateMachine', {
    comment: props.comment,
    definitionBody: sfn.DefinitionBody.fromChainable(props.definition),
    stateMachineType: sfn.StateMachineType.STANDARD,
    queryLanguage: sfn.QueryLanguage.JSON_PATH,
    tracingEnabled: true,
    ...(props.timeout ? { timeout: props.timeout } : {}),
    logs: {
      destination: new logs.LogGroup(scope, 'ExecutionLogs', {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      level: sfn.LogLevel.ERROR,
      includeExecutionData: true,
    },
  });
}
