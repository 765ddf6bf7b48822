import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ConditionalCheckFailedException,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { startEmbeddedDynamoDb, tableDefinitions } from './embedded-dynamodb';
import { createLocalApp, logicalIdOf, parseTemplate, synthesizeTemplate } from './synthesized-definitions';
import { SampleStack } from '../../test/support/sample-stack';

// aws-cdk-lib removes its temporary assembly directories on process exit, which jest never fires.
afterAll(() => CloudAssembly.cleanupTemporaryDirectories());

const stack = new SampleStack(createLocalApp(), 'Sample');
const template = synthesizeTemplate(stack);
const recordsId = Object.keys(template.Resources).find((id) => id.startsWith('Records')) ?? '';

describe('startEmbeddedDynamoDb', () => {
  let directory: string;
  beforeEach(() => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'embedded-dynamodb-'));
  });
  afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

  it("creates the template's table with its keys and global index, named by its logical id", async () => {
    const db = await startEmbeddedDynamoDb({ template });
    try {
      expect(db.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(db.tables).toEqual({ [logicalIdOf(stack.table)]: recordsId });
      expect(db.tableName('Records')).toBe(recordsId);
      expect(() => db.tableName('Nope')).toThrow(/No table matches "Nope"/);

      const { Table } = await db.client.send(new DescribeTableCommand({ TableName: recordsId }));
      expect(Table?.TableStatus).toBe('ACTIVE');
      expect(Table?.KeySchema).toEqual([
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ]);
      expect(Table?.GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.IndexStatus])).toEqual([['byStatus', 'ACTIVE']]);

      await db.client.send(
        new PutItemCommand({
          TableName: recordsId,
          Item: { pk: { S: 'task' }, sk: { S: '1' }, status: { S: 'CLAIMED' }, updatedAt: { N: '5' } },
        }),
      );
      const byStatus = await db.client.send(
        new QueryCommand({
          TableName: recordsId,
          IndexName: 'byStatus',
          KeyConditionExpression: '#s = :s',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':s': { S: 'CLAIMED' } },
        }),
      );
      expect(byStatus.Items).toHaveLength(1);
    } finally {
      await db.stop();
    }
  });

  it('supports conditional writes, but neither TTL nor transactions', async () => {
    const db = await startEmbeddedDynamoDb({ template });
    try {
      const claim = () =>
        db.client.send(
          new PutItemCommand({
            TableName: recordsId,
            Item: { pk: { S: 'task' }, sk: { S: '1' } },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
      await claim();
      await expect(claim()).rejects.toBeInstanceOf(ConditionalCheckFailedException);

      // The template enables TTL on `expiresAt`; the embedded table knows nothing of it.
      const ttl = await db.client.send(new DescribeTimeToLiveCommand({ TableName: recordsId }));
      expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).not.toBe('ENABLED');
      await expect(
        db.client.send(
          new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: recordsId, Item: { pk: { S: 'a' }, sk: { S: 'b' } } } }] }),
        ),
      ).rejects.toThrow();
    } finally {
      await db.stop();
    }
  });

  it('keeps data on disk across stop and start, without recreating tables', async () => {
    const first = await startEmbeddedDynamoDb({ path: directory, template });
    await first.client.send(new PutItemCommand({ TableName: recordsId, Item: { pk: { S: 'kept' }, sk: { S: '1' } } }));
    await first.stop();
    await first.stop();

    const second = await startEmbeddedDynamoDb({ path: directory, template });
    try {
      expect(second.endpoint).not.toBe('');
      const { Item } = await second.client.send(new GetItemCommand({ TableName: recordsId, Key: { pk: { S: 'kept' }, sk: { S: '1' } } }));
      expect(Item).toEqual({ pk: { S: 'kept' }, sk: { S: '1' } });
      const { TableNames } = await second.client.send(new ListTablesCommand({}));
      expect(TableNames?.sort()).toEqual([recordsId]);
    } finally {
      await second.stop();
    }
  });

  it('after taking over the directory of a dead process, its index still holds exactly the items with index keys', async () => {
    const first = await startEmbeddedDynamoDb({ path: directory, template });
    const put = (sk: string, status?: string) =>
      first.client.send(
        new PutItemCommand({
          TableName: recordsId,
          Item: { pk: { S: 'task' }, sk: { S: sk }, updatedAt: { N: '5' }, ...(status ? { status: { S: status } } : {}) },
        }),
      );
    await put('1', 'CLAIMED');
    await put('2', 'CLAIMED');
    await put('2');
    await first.stop();
    // What a SIGKILL leaves: the lock file of a process that no longer runs.
    fs.writeFileSync(path.join(directory, 'embedded-dynamodb.lock'), '999999999');

    const second = await startEmbeddedDynamoDb({ path: directory, template });
    try {
      const byStatus = await second.client.send(
        new QueryCommand({
          TableName: recordsId,
          IndexName: 'byStatus',
          KeyConditionExpression: '#s = :s',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':s': { S: 'CLAIMED' } },
        }),
      );
      expect(byStatus.Items?.map((item) => item['sk']?.S)).toEqual(['1']);
    } finally {
      await second.stop();
    }
  });

  it('refuses a second server on a directory in use, instead of crashing in LevelDB', async () => {
    const first = await startEmbeddedDynamoDb({ path: directory });
    try {
      await expect(startEmbeddedDynamoDb({ path: directory })).rejects.toThrow(/is in use by another embedded DynamoDB/);
    } finally {
      await first.stop();
    }
    const again = await startEmbeddedDynamoDb({ path: directory });
    await again.stop();
  });

  it('keeps in-memory data only while running', async () => {
    const first = await startEmbeddedDynamoDb({ template });
    await first.client.send(new PutItemCommand({ TableName: recordsId, Item: { pk: { S: 'gone' }, sk: { S: '1' } } }));
    await first.stop();
    const second = await startEmbeddedDynamoDb({ template });
    try {
      const { Item } = await second.client.send(new GetItemCommand({ TableName: recordsId, Key: { pk: { S: 'gone' }, sk: { S: '1' } } }));
      expect(Item).toBeUndefined();
    } finally {
      await second.stop();
    }
  });

  it('starts without a template', async () => {
    const db = await startEmbeddedDynamoDb();
    try {
      expect((await db.client.send(new ListTablesCommand({}))).TableNames).toEqual([]);
    } finally {
      await db.stop();
    }
  });
});

describe('tableDefinitions', () => {
  const withTable = (type: string, properties: Record<string, unknown>) =>
    parseTemplate({
      Resources: { Extra: { Type: type, Properties: { ...(template.Resources[recordsId]?.Properties ?? {}), ...properties } } },
    });

  it('turns the on-demand table into a CreateTable input, dropping what dynalite cannot use (TTL)', () => {
    const [records] = tableDefinitions(template);
    expect(records?.input).toEqual({
      TableName: recordsId,
      KeySchema: expect.any(Array),
      AttributeDefinitions: expect.any(Array),
      BillingMode: 'PAY_PER_REQUEST',
      GlobalSecondaryIndexes: [expect.objectContaining({ IndexName: 'byStatus', Projection: { ProjectionType: 'ALL' } })],
    });
  });

  it('refuses provisioned capacity, local indexes and global tables, naming the table', () => {
    expect(() => tableDefinitions(withTable('AWS::DynamoDB::Table', { BillingMode: 'PROVISIONED' }))).toThrow(
      /Table Extra \(only on-demand tables/,
    );
    expect(() => tableDefinitions(withTable('AWS::DynamoDB::Table', { LocalSecondaryIndexes: [] }))).toThrow(
      'Table Extra: LocalSecondaryIndexes not supported locally',
    );
    expect(() => tableDefinitions(withTable('AWS::DynamoDB::GlobalTable', {}))).toThrow(
      'Extra: AWS::DynamoDB::GlobalTable is not supported locally',
    );
  });
});
