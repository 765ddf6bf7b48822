/**
 * Reading the task records a local runner left in its state dir (the embedded DynamoDB's LevelDB files), after the
 * runners that used it have stopped: the embedded database holds the dir's lock while it runs.
 */
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { type TaskRecord, taskRecordSchema } from '../../lambdas/shared/records/task-records';
import { startEmbeddedDynamoDb } from '../../local/emulator/embedded-dynamodb';

/** The key `readTaskRecords` files a record under. */
export const taskKey = (workflowExecutionId: string, taskId: string): string => `${workflowExecutionId}/${taskId}`;

/** Every task record (pk `TASK#…`) of every table in the state dir, parsed, keyed by `taskKey`. */
export async function readTaskRecords(stateDir: string): Promise<Map<string, TaskRecord>> {
  const dynamo = await startEmbeddedDynamoDb({ path: stateDir });
  try {
    const documents = DynamoDBDocumentClient.from(dynamo.client);
    const records = new Map<string, TaskRecord>();
    const { TableNames = [] } = await dynamo.client.send(new ListTablesCommand({}));
    for (const TableName of TableNames) {
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await documents.send(new ScanCommand({ TableName, ExclusiveStartKey, ConsistentRead: true }));
        for (const item of page.Items ?? []) {
          if (typeof item.pk !== 'string' || !item.pk.startsWith('TASK#')) continue;
          const record = taskRecordSchema.parse(item);
          records.set(taskKey(record.workflowExecutionId, record.taskId), record);
        }
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
    }
    return records;
  } finally {
    await dynamo.stop();
  }
}
