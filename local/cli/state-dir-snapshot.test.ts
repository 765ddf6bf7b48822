import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmbeddedDynamoDb } from '../emulator/embedded-dynamodb';
import { snapshotStateDir } from './state-dir-snapshot';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'state-dir-snapshot-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** A state dir an embedded DynamoDB has used and closed again. */
async function usedStateDir(): Promise<string> {
  const dir = path.join(root, 'state');
  const dynamo = await startEmbeddedDynamoDb({ path: dir });
  await dynamo.stop();
  return dir;
}

describe('snapshotStateDir', () => {
  it('takes no lock: an embedded DynamoDB (a sweep) opens the state dir while the dry run has its copy open', async () => {
    const dir = await usedStateDir();
    const snapshot = snapshotStateDir(dir);
    // Opened as the dry run opens it, for as long as its reads take.
    const copy = await startEmbeddedDynamoDb({ path: snapshot?.directory });
    try {
      const sweep = await startEmbeddedDynamoDb({ path: dir });
      await sweep.stop();
    } finally {
      await copy.stop();
      snapshot?.remove();
    }
    expect(fs.existsSync(snapshot?.directory ?? '')).toBe(false);
    expect(fs.existsSync(dir)).toBe(true);
  });

  it("copies a state dir whose lock a dead process left, leaving that lock for the next sweep's takeover and repair", async () => {
    const dir = await usedStateDir();
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
    fs.writeFileSync(path.join(dir, 'embedded-dynamodb.lock'), String(deadPid));

    const snapshot = snapshotStateDir(dir);
    snapshot?.remove();

    expect(snapshot).toBeDefined();
    expect(fs.readFileSync(path.join(dir, 'embedded-dynamodb.lock'), 'utf8')).toBe(String(deadPid));
  });

  it('is undefined for a state dir that does not exist, and creates none', () => {
    const missing = path.join(root, 'missing');

    expect(snapshotStateDir(missing)).toBeUndefined();
    expect(fs.existsSync(missing)).toBe(false);
  });
});
