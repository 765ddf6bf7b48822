import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges the cdk-nag AwsSolutions findings the runner accepts, each on the construct it concerns (never
 * stack-wide), with the reason. Call it once every function and state machine exists: constructs added later are
 * checked in full.
 */
export function acknowledgeNagFindings(scope: IConstruct): void {
  const stack = Stack.of(scope);
  for (const construct of scope.node.findAll()) {
    if (construct instanceof lambda.Function) {
      Validations.of(construct).acknowledge(
        {
          id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          reason:
            'AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch logs; the AWS-maintained ' +
            'policy is the standard way to grant that.',
        },
        {
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason: 'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.',
        },
        {
          id: 'AwsSolutions-L1',
          reason:
            'Node.js 22 is pinned on purpose: the bundles target node22 and rely on the AWS SDK v3 the runtime ships; ' +
            'runtime upgrades are made deliberately, with the tests.',
        },
      );
    }
    if (construct instanceof sfn.StateMachine) {
      Validations.of(construct).acknowledge(
        {
          id: 'AwsSolutions-SF1',
          reason:
            'Executions log ERROR events with their data; logging ALL events would write every poll of every run ' +
            '(one per second) to CloudWatch Logs. The full history stays in Step Functions and X-Ray traces are on.',
        },
        {
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason:
            'X-Ray tracing and CloudWatch Logs log delivery (logs:CreateLogDelivery and friends) support no ' +
            'resource-level permissions.',
        },
      );
    }
  }
  // A LambdaInvoke state may invoke the function's versions and aliases: `<function ARN>:*`. A state machine invokes
  // the functions defined next to it (same parent construct).
  for (const construct of scope.node.findAll()) {
    if (!(construct instanceof sfn.StateMachine) || !construct.node.scope) continue;
    for (const fn of construct.node.scope.node.children) {
      if (!(fn instanceof lambda.Function)) continue;
      const logicalId = stack.resolve(stack.getLogicalId(fn.node.defaultChild as CfnElement)) as string;
      Validations.of(construct).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>:*]`,
        reason: `The state machine invokes ${fn.node.id} and may invoke its versions and aliases (ARN suffix :*).`,
      });
    }
  }
}
