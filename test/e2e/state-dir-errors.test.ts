import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmbeddedDynamoDb } from '../../local/emulator/embedded-dynamodb';
import { type EpilotSimulator, startEpilotSimulator } from '../../simulator/epilot-simulator';
import { ownLines, runCli } from '../support/cli-process';
import { DEMO_SEED } from '../support/local-pipeline';

const TOKEN = 'state-dir-test-token';

const stackLines = (stderr: string) => stderr.split('\n').filter((line) => /^\s+at /.test(line));

describe('epilot-task-runner sweep with a --state-dir it cannot use', () => {
  let simulator: EpilotSimulator;
  let parent: string;
  beforeAll(async () => {
    simulator = await startEpilotSimulator({ token: TOKEN, seed: DEMO_SEED });
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'state-dir-cli-'));
  });
  afterAll(async () => {
    await simulator.stop();
    fs.rmSync(parent, { recursive: true, force: true });
  });

  const sweep = (stateDir: string, ...more: string[]) =>
    runCli(['sweep', '--epilot-api-url', simulator.url, '--state-dir', stateDir, ...more], { EPILOT_API_TOKEN: TOKEN });

  async function corruptedStateDir(): Promise<string> {
    const directory = path.join(parent, 'corrupted');
    const db = await startEmbeddedDynamoDb({ path: directory });
    await db.stop();
    for (const file of fs.readdirSync(directory)) {
      if (file === 'CURRENT' || file.startsWith('MANIFEST-')) fs.writeFileSync(path.join(directory, file), 'garbage\u0000\u00ff');
    }
    return directory;
  }

  it('exits 2 with one line naming --state-dir and what to do, no stack trace, for a corrupted dir, a file and /proc/x', async () => {
    const corrupted = await corruptedStateDir();
    const file = path.join(parent, 'notes.txt');
    fs.writeFileSync(file, 'keep me');
    // /proc/x made Node's recursive mkdir spin at 100 % CPU: the test timeout is the old behaviour's failure.
    const underProc = fs.existsSync('/proc/self') ? ['/proc/x'] : [];

    const results = await Promise.all([corrupted, file, ...underProc].map((dir) => sweep(dir)));

    expect(results.map((result) => ({ code: result.code, lines: ownLines(result.stderr), stack: stackLines(result.stderr) }))).toEqual([
      {
        code: 2,
        lines: [
          expect.stringMatching(
            new RegExp(`^epilot-task-runner: --state-dir ${corrupted} holds task records that cannot be read .*: move it away`),
          ),
        ],
        stack: [],
      },
      {
        code: 2,
        lines: [`epilot-task-runner: --state-dir ${file} is a file, not a folder: name a folder, or one that does not exist yet`],
        stack: [],
      },
      ...underProc.map((dir) => ({
        code: 2,
        lines: [`epilot-task-runner: --state-dir ${dir} cannot be made here (ENOENT): name a folder on an ordinary disk`],
        stack: [],
      })),
    ]);
    expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
  }, 45_000);

  it('adds the stack trace under the one line with --log-level DEBUG', async () => {
    fs.writeFileSync(path.join(parent, 'notes-too.txt'), 'keep me');

    const result = await sweep(path.join(parent, 'notes-too.txt', 'state'), '--log-level', 'DEBUG');

    expect(result.code).toBe(2);
    expect(ownLines(result.stderr)).toEqual([expect.stringMatching(/--state-dir .* cannot be made: part of its path is a file/)]);
    expect(stackLines(result.stderr).length).toBeGreaterThan(0);
  }, 45_000);
});
