import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { TaskExecutionStarter } from '../task-starter';

export function stepFunctionsStarter(stateMachineArn: string, client = new SFNClient({})): TaskExecutionStarter {
  return {
    async start(name, input) {
      try {
        await client.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
        return 'started';
      } catch (error) {
        // Someone started this attempt already (a concurrent sweep or webhook): exactly what we wanted.
        if (error instanceof ExecutionAlreadyExists || (error as { name?: unknown }).name === 'ExecutionAlreadyExists') {
          return 'exists';
        }
        throw error;
      }
    },
  };
}
