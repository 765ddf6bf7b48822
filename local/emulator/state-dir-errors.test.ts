import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StateDirError, startEmbeddedDynamoDb } from './embedded-dynamodb';

describe('startEmbeddedDynamoDb on a state dir it cannot use', () => {
  let parent: string;
  beforeEach(() => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'state-dir-errors-'));
  });
  afterEach(() => {
    fs.rmSync(parent, { recursive: true, force: true });
  });

  /** Lets `startEmbeddedDynamoDb` make its LevelDB files in `directory`, then overwrites them with garbage. */
  async function corruptedStateDir(directory: string): Promise<void> {
    const db = await startEmbeddedDynamoDb({ path: directory });
    await db.stop();
    for (const file of fs.readdirSync(directory)) {
      if (file === 'CURRENT' || file.startsWith('MANIFEST-'))
        fs.writeFileSync(path.join(directory, file), 'not LevelDB at all\u0000\u00ff');
    }
  }

  it('rejects a path that is a file with a StateDirError saying so, and leaves the file as it was', async () => {
    const file = path.join(parent, 'notes.txt');
    fs.writeFileSync(file, 'keep me');

    const started = startEmbeddedDynamoDb({ path: file });

    await expect(started).rejects.toThrow(StateDirError);
    await expect(started).rejects.toMatchObject({ problem: 'is a file, not a folder' });
    expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
  });

  it('rejects a path below a file with a StateDirError saying part of the path is a file', async () => {
    fs.writeFileSync(path.join(parent, 'notes.txt'), 'keep me');

    await expect(startEmbeddedDynamoDb({ path: path.join(parent, 'notes.txt', 'state') })).rejects.toMatchObject({
      name: 'StateDirError',
      problem: 'cannot be made: part of its path is a file',
    });
  });

  it('rejects a folder it may not write to with a StateDirError naming the refusal and what to do', async () => {
    // A read-only mode does not stop root, whom /sys refuses any new folder (EPERM) instead.
    const asRoot = process.getuid?.() === 0;
    const readOnly = path.join(parent, 'read-only');
    fs.mkdirSync(readOnly, { mode: 0o500 });

    await expect(
      startEmbeddedDynamoDb({ path: asRoot ? '/sys/epilot-task-runner-state' : path.join(readOnly, 'state') }),
    ).rejects.toMatchObject({
      name: 'StateDirError',
      problem: expect.stringMatching(/^cannot be written \((EACCES|EPERM)\)$/),
      advice: 'name a folder you may write to',
    });
  });

  it('rejects a state dir whose LevelDB files hold garbage with a StateDirError saying to move it away, and unlocks it', async () => {
    const directory = path.join(parent, 'state');
    await corruptedStateDir(directory);

    const started = startEmbeddedDynamoDb({ path: directory });

    await expect(started).rejects.toMatchObject({
      name: 'StateDirError',
      problem: expect.stringMatching(/^holds task records that cannot be read \(/),
    });
    await expect(started).rejects.toMatchObject({ advice: expect.stringMatching(/^move it away/) });
    expect(fs.existsSync(path.join(directory, 'embedded-dynamodb.lock'))).toBe(false);
  });

  it('says a state dir in use by a live process is in use, as a StateDirError', async () => {
    const directory = path.join(parent, 'state');
    const first = await startEmbeddedDynamoDb({ path: directory });
    try {
      await expect(startEmbeddedDynamoDb({ path: directory })).rejects.toMatchObject({
        name: 'StateDirError',
        problem: `is in use by another embedded DynamoDB (pid ${process.pid})`,
      });
    } finally {
      await first.stop();
    }
  });
});
