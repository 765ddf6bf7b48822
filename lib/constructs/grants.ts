import { ArnFormat, Stack, Token, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';

/**
 * What a trigger (sweep or webhook) needs to start task executions: start them, and, when a name is taken, tell a
 * running execution from one that ended.
 */
export function grantStartingTaskExecutions(stateMachine: sfn.StateMachine, grantee: lambda.Function): void {
  stateMachine.grantStartExecution(grantee);
  stateMachine.grantExecution(grantee, 'states:DescribeExecution');
  // Execution names are made at run time, so the grant covers the state machine's executions: `execution:<name>:*`,
  // spelled as cdk-nag sees the ARN CDK builds.
  const stack = Stack.of(stateMachine);
  const { resourceName } = stack.splitArn(stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME);
  const name = JSON.stringify(stack.resolve(resourceName));
  // cdk-nag names pseudo parameters `<AWS::Region>`, but a stack deployed to a given env has literal values.
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  Validations.of(grantee).acknowledge({
    id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${region}:${account}:execution:${name}:*]`,
    reason:
      "DescribeExecution on the task state machine's own executions (names are made per task at run time): to tell a " +
      'running execution from an ended one when a name is taken.',
  });
}
