import { DescribeExecutionCommand, ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { TaskExecutionStarter } from '../domain/task-starter';

export function stepFunctionsStarter(stateMachineArn: string, client = new SFNClient({})): TaskExecutionStarter {
  return {
    async startExecution(name, input) {
      try {
        await client.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
        return 'started';
      } catch (error) {
        if (!(error instanceof ExecutionAlreadyExists || (error as { name?: unknown }).name === 'ExecutionAlreadyExists')) {
          throw error;
        }
        // Someone started this attempt already (a concurrent sweep or webhook), or it ran and ended: which one
        // decides whether the task needs another execution.
        const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
        const { status } = await client.send(new DescribeExecutionCommand({ executionArn }));
        return status === 'RUNNING' || status === 'PENDING_REDRIVE' ? 'running' : 'ended';
      }
    },
  };
}
