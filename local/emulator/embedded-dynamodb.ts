import * as fs from 'node:fs';
import { processIsRunning, STATE_DIR_LOCK_FILE } from './state-dir-lock';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type AttributeValue,
  type CreateTableCommandInput,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  paginateListTables,
  paginateScan,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import * as z from 'zod';
import { LOCAL_REGION } from './local-account';
import { type CloudFormationTemplate, findByLogicalId, resolveCfnValue } from './synthesized-definitions';

/**
 * dynalite ships no types; this is the part used here. Its server's close() also closes the LevelDB store once
 * open requests are done (and a later listen() reopens it).
 */
type DynaliteFactory = (options: { path?: string; createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }) => Server;
// dynalite ships no types and no ES module: required and typed here, at the one place it is loaded.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as DynaliteFactory;

export interface EmbeddedDynamoDbOptions {
  /**
   * Directory for the LevelDB files; the data survives stop() and is there again on the next start. One server per
   * directory at a time. In memory if absent.
   */
  path?: string | undefined;
  /** Every `AWS::DynamoDB::Table` of it is created, unless a table of that name exists already. */
  template?: CloudFormationTemplate | undefined;
}

/**
 * dynalite behind a DynamoDB endpoint on 127.0.0.1. Unlike DynamoDB it has no TTL (items never expire: expiry must
 * live in condition expressions) and no transactions (TransactWriteItems/TransactGetItems are rejected).
 */
export interface EmbeddedDynamoDb {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** Region eu-central-1, dummy credentials, this endpoint. Destroyed by stop(). */
  client: DynamoDBClient;
  /** Logical id (exact, or a unique prefix such as the construct id) or table name → the table's name here. */
  tableName(logicalIdOrPrefix: string): string;
  /** Logical id → table name, for every table created from the template. */
  tables: Readonly<Record<string, string>>;
  /** Closes the client, the HTTP server and the store; resolves once nothing is left running. Idempotent. */
  stop(): Promise<void>;
}

export async function startEmbeddedDynamoDb(options: EmbeddedDynamoDbOptions = {}): Promise<EmbeddedDynamoDb> {
  const lock = options.path === undefined ? { release: () => undefined, tookOverFromDeadProcess: false } : lockDirectory(options.path);
  const releaseLock = lock.release;
  if (options.path !== undefined) {
    try {
      await checkStoreOpens(options.path);
    } catch (error) {
      releaseLock();
      throw error;
    }
  }
  // Table status changes are instant: tables and indexes are ACTIVE as soon as the create call returns.
  const server = dynalite({
    ...(options.path === undefined ? {} : { path: options.path }),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    releaseLock();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    region: LOCAL_REGION,
    endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      client.destroy();
      try {
        await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
      } finally {
        releaseLock();
      }
    })());

  try {
    const tables = options.template ? tableDefinitions(options.template) : [];
    await createMissingTables(client, tables);
    if (lock.tookOverFromDeadProcess) await repairIndexes(client);
    const names = Object.fromEntries(tables.map((t) => [t.logicalId, t.input.TableName]));
    return { endpoint, client, tables: names, tableName: (wanted) => findTableName(names, wanted), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The state directory cannot be used. `problem` says what is wrong with it and `advice` what to do, so a command
 * line can say it in one line naming its own option.
 */
export class StateDirError extends Error {
  override readonly name = 'StateDirError';
  constructor(
    readonly directory: string,
    readonly problem: string,
    readonly advice: string,
    options?: ErrorOptions,
  ) {
    super(`${directory} ${problem}: ${advice}`, options);
  }
}

/** How often a lock left by a dead process is taken over before giving up: another starter keeps taking it first. */
const LOCK_ATTEMPTS = 3;

/**
 * One server per directory: a second dynalite on a LevelDB directory in use does not fail cleanly, it crashes the
 * process from inside LevelDB. A lock file with the owner's pid turns that into an error here; a lock left by a
 * process that no longer runs is taken over.
 */
function lockDirectory(directory: string): { release: () => void; tookOverFromDeadProcess: boolean } {
  makeDirectory(directory);
  const lockFile = path.join(directory, STATE_DIR_LOCK_FILE);
  let tookOverFromDeadProcess = false;
  for (let attempt = 1; ; attempt++) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      return { release: () => fs.rmSync(lockFile, { force: true }), tookOverFromDeadProcess };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' || attempt >= LOCK_ATTEMPTS) throw unusable(directory, error);
      let owner: number;
      try {
        owner = Number(fs.readFileSync(lockFile, 'utf8'));
      } catch (readError) {
        throw unusable(directory, readError);
      }
      if (processIsRunning(owner)) {
        throw new StateDirError(
          directory,
          `is in use by another embedded DynamoDB (pid ${owner})`,
          'wait for that one to end, or name another folder',
          {
            cause: error,
          },
        );
      }
      fs.rmSync(lockFile, { force: true });
      tookOverFromDeadProcess = true;
    }
  }
}

/**
 * `fs.mkdirSync(…, { recursive: true })` never returns for a path under /proc (Node retries the ENOENT there
 * forever, at 100 % CPU), so parents are made one by one and an ENOENT after its parent exists is final.
 */
function makeDirectory(directory: string): void {
  try {
    fs.mkdirSync(directory);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (fs.statSync(directory).isDirectory()) return;
      throw new StateDirError(directory, 'is a file, not a folder', 'name a folder, or one that does not exist yet', { cause: error });
    }
    const parent = path.dirname(directory);
    if (code !== 'ENOENT' || parent === directory) throw unusable(directory, error);
  }
  makeDirectory(path.dirname(directory));
  try {
    fs.mkdirSync(directory);
  } catch (error) {
    throw unusable(directory, error);
  }
}

/** A file system refusal as what it means for the user's folder. */
function unusable(directory: string, error: unknown): Error {
  if (error instanceof StateDirError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new StateDirError(directory, `cannot be written (${code})`, 'name a folder you may write to', { cause: error });
    case 'ENOTDIR':
      return new StateDirError(directory, 'cannot be made: part of its path is a file', 'name a folder, or one that does not exist yet', {
        cause: error,
      });
    case 'ENOENT':
      return new StateDirError(directory, 'cannot be made here (ENOENT)', 'name a folder on an ordinary disk', { cause: error });
    default:
      return new StateDirError(directory, `cannot be used (${code ?? describe(error)})`, 'name another folder', { cause: error });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * dynalite opens its LevelDB store lazily and throws an open failure (garbage in the files) from inside a request
 * handler, which no caller can catch: the process dies with LevelDB's stack trace. Opening the store once first,
 * with the same LevelDB package dynalite loads, turns that into an error here.
 */
async function checkStoreOpens(directory: string): Promise<void> {
  const { Level } = createRequire(require.resolve('dynalite'))('level') as {
    Level: new (location: string) => { open(): Promise<void>; close(): Promise<void> };
  };
  const store = new Level(directory);
  try {
    await store.open();
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : describe(error);
    throw new StateDirError(
      directory,
      `holds task records that cannot be read (${cause})`,
      'move it away (its records are lost to the runner) and run again, or name another folder',
      { cause: error },
    );
  }
  await store.close();
}

/**
 * dynalite writes an item and its index entries one after another, not in one LevelDB batch: a process killed in
 * between (soak phase C found it) leaves an index without the item's entry, or with the entry of the item as it was,
 * so an open task record is never found by the open-records query again. DynamoDB itself keeps indexes in step. After
 * taking over from a dead process, every index is made to match its table again: a stale entry is overwritten with
 * the item under that entry's key and then moved to the item's own key (or deleted with an item that is gone), and
 * every item is written again, which writes its entries.
 */
async function repairIndexes(client: DynamoDBClient): Promise<void> {
  for await (const page of paginateListTables({ client }, {})) {
    for (const TableName of page.TableNames ?? []) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName }));
      const tableKeys = (Table?.KeySchema ?? []).flatMap((key) => (key.AttributeName ? [key.AttributeName] : []));
      for (const index of Table?.GlobalSecondaryIndexes ?? []) {
        const indexKeys = (index.KeySchema ?? []).flatMap((key) => (key.AttributeName ? [key.AttributeName] : []));
        for await (const entries of paginateScan({ client }, { TableName, IndexName: index.IndexName })) {
          for (const entry of entries.Items ?? []) {
            const Key = pick(entry, tableKeys);
            const { Item } = await client.send(new GetItemCommand({ TableName, Key, ConsistentRead: true }));
            const entryKey = pick(entry, indexKeys);
            if (Item && indexKeys.every((name) => JSON.stringify(Item[name]) === JSON.stringify(entryKey[name]))) continue;
            await client.send(new PutItemCommand({ TableName, Item: { ...(Item ?? Key), ...entryKey } }));
            if (Item) await client.send(new PutItemCommand({ TableName, Item }));
            else await client.send(new DeleteItemCommand({ TableName, Key }));
          }
        }
      }
      if ((Table?.GlobalSecondaryIndexes ?? []).length === 0) continue;
      for await (const items of paginateScan({ client }, { TableName, ConsistentRead: true })) {
        for (const Item of items.Items ?? []) await client.send(new PutItemCommand({ TableName, Item }));
      }
    }
  }
}

function pick(item: Record<string, AttributeValue>, names: string[]): Record<string, AttributeValue> {
  return Object.fromEntries(names.flatMap((name) => (item[name] === undefined ? [] : [[name, item[name]]])));
}

export interface TableDefinition {
  logicalId: string;
  input: CreateTableCommandInput & { TableName: string };
}

const keySchema = z.array(z.object({ AttributeName: z.string(), KeyType: z.enum(['HASH', 'RANGE']) }));
const projection = z.object({
  ProjectionType: z.enum(['ALL', 'KEYS_ONLY', 'INCLUDE']).optional(),
  NonKeyAttributes: z.array(z.string()).optional(),
});
/**
 * What the stack's table uses: keys, on-demand billing and global secondary indexes. Settings that change no
 * behaviour here (encryption, recovery, TTL, which dynalite lacks anyway) pass; anything else is refused by name.
 */
const tableProperties = z.looseObject({
  TableName: z.unknown().optional(),
  KeySchema: keySchema,
  AttributeDefinitions: z.array(z.object({ AttributeName: z.string(), AttributeType: z.enum(['S', 'N', 'B']) })),
  BillingMode: z.literal('PAY_PER_REQUEST'),
  GlobalSecondaryIndexes: z.array(z.strictObject({ IndexName: z.string(), KeySchema: keySchema, Projection: projection })).optional(),
});
const IGNORED_PROPERTIES = new Set([
  'PointInTimeRecoverySpecification',
  'SSESpecification',
  'TimeToLiveSpecification',
  'DeletionProtectionEnabled',
  'Tags',
]);

/** CreateTable inputs for the template's `AWS::DynamoDB::Table`s: key schema, attributes and indexes. */
export function tableDefinitions(template: CloudFormationTemplate): TableDefinition[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type.startsWith('AWS::DynamoDB::'))
    .map(([logicalId, resource]) => {
      if (resource.Type !== 'AWS::DynamoDB::Table') throw new Error(`${logicalId}: ${resource.Type} is not supported locally`);
      const properties = resource.Properties ?? {};
      const unsupported = Object.keys(properties).filter((key) => !(key in tableProperties.shape) && !IGNORED_PROPERTIES.has(key));
      if (unsupported.length > 0) throw new Error(`Table ${logicalId}: ${unsupported.join(', ')} not supported locally`);
      const parsed = tableProperties.safeParse(resolveCfnValue(template, properties));
      if (!parsed.success)
        throw new Error(`Table ${logicalId} (only on-demand tables with global indexes run locally): ${z.prettifyError(parsed.error)}`);
      const p = parsed.data;
      const input: TableDefinition['input'] = {
        TableName: typeof p.TableName === 'string' ? p.TableName : logicalId,
        KeySchema: p.KeySchema,
        AttributeDefinitions: p.AttributeDefinitions,
        BillingMode: 'PAY_PER_REQUEST',
        ...(p.GlobalSecondaryIndexes?.length ? { GlobalSecondaryIndexes: p.GlobalSecondaryIndexes } : {}),
      };
      return { logicalId, input };
    });
}

async function createMissingTables(client: DynamoDBClient, tables: TableDefinition[]): Promise<void> {
  const existing = new Set<string>();
  for await (const page of paginateListTables({ client }, {})) for (const name of page.TableNames ?? []) existing.add(name);
  for (const { input } of tables) {
    if (existing.has(input.TableName)) continue;
    await client.send(new CreateTableCommand(input));
    await waitUntilActive(client, input.TableName);
  }
}

/** With createTableMs 0 dynalite flips tables to ACTIVE on its next tick; the SDK waiter would poll for 20 s. */
async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE');
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`Table ${tableName} did not become ACTIVE`);
}

function findTableName(tables: Record<string, string>, wanted: string): string {
  const items = Object.entries(tables).map(([logicalId, name]) => ({ logicalId, name }));
  return findByLogicalId(items, wanted, 'table').name;
}
