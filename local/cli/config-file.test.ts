import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { main } from './cli';
import { addSettingOptions, settingsFromOptions, UsageError } from './options';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'config-file-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A config file with `content` (an object is written as JSON, text as it is); returns its path. */
function configFile(name: string, content: unknown): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** The settings a command with every setting option reads from `argv`, as sweep and serve read theirs. */
function settingsOf(argv: string[]) {
  const command = addSettingOptions(new Command(), ['epilot', 'runner', 'webhook', 'stack']);
  command.parse(argv, { from: 'user' });
  return settingsFromOptions(command.opts());
}

describe('--config FILE', () => {
  it('applies the deployment settings of the file, numbers given as numbers or as text like CDK context values', () => {
    const file = configFile('stack.json', { pollIntervalMs: 2000, automationTimeoutMs: '600000', searchQuery: '_schema:opportunity' });

    expect(settingsOf(['--config', file])).toMatchObject({
      pollIntervalMs: 2000,
      automationTimeoutMs: 600_000,
      searchQuery: '_schema:opportunity',
      claimLeaseMs: 120_000,
    });
  });

  it('lets an option typed on the command line override the same key of the file, keeping the other keys', () => {
    const file = configFile('override.json', { pollIntervalMs: 2000, doneSettleMs: 5000 });

    expect(settingsOf(['--config', file, '--poll-interval-ms', '300'])).toMatchObject({ pollIntervalMs: 300, doneSettleMs: 5000 });
  });

  it("wins over the command's own default (serve's sweepRateMinutes 0), as the stack's context would", () => {
    const command = addSettingOptions(new Command(), ['stack']);
    command.parse(['--config', configFile('schedule.json', { sweepRateMinutes: 5 })], { from: 'user' });

    expect(settingsFromOptions(command.opts(), { sweepRateMinutes: 0 }).sweepRateMinutes).toBe(5);
  });

  it.each([
    ['an unknown key', { pollInterval: 2000 }, 'unknown key "pollInterval" (not a deployment setting; see --help for the settings)'],
    ['a key spelt as its option', { 'poll-interval-ms': 2000 }, 'unknown key "poll-interval-ms" (did you mean "pollIntervalMs"?)'],
    ['a value out of range', { pollIntervalMs: 50 }, 'key pollIntervalMs: must be at least 100'],
    ['a value of the wrong type', { searchPageSize: true }, 'key searchPageSize: must be a whole number'],
    ['a null value', { httpTimeoutMs: null }, 'key httpTimeoutMs: must be a whole number'],
    ['a JSON array', [1, 2], 'must be a JSON object of deployment settings, e.g. {"pollIntervalMs": 2000}'],
  ])('refuses %s with one UsageError line naming the file and the key', (_case, content, problem) => {
    const file = configFile('bad.json', content);

    expect(() => settingsOf(['--config', file])).toThrow(new UsageError(`--config ${file}: ${problem}`));
  });

  it('refuses a file that is not JSON with one line naming the file and what the parser says', () => {
    const file = configFile('broken.json', '{"pollIntervalMs": 2000,');

    expect(() => settingsOf(['--config', file])).toThrow(UsageError);
    expect(() => settingsOf(['--config', file])).toThrow(new RegExp(`^--config ${file}: is not valid JSON \\(.+\\)$`));
  });

  it('refuses a file that cannot be read with one line naming the file and the error code', () => {
    const missing = path.join(dir, 'missing.json');

    expect(() => settingsOf(['--config', missing])).toThrow(
      new UsageError(`--config ${missing}: cannot be read (ENOENT): pass the path of a JSON file of deployment settings`),
    );
  });

  it('names the file and its key when a file value conflicts with an option typed on the command line', () => {
    const file = configFile('conflict.json', { automationTimeoutMs: 1000 });

    expect(() => settingsOf(['--config', file, '--poll-interval-ms', '5000'])).toThrow(
      new UsageError(
        `option --poll-interval-ms: must not be longer than --automation-timeout-ms (automationTimeoutMs in --config ${file}) (1000)`,
      ),
    );
  });
});

describe.each(['sweep', 'serve'])('epilot-task-runner %s --config', (command) => {
  let stderr: jest.SpiedFunction<typeof process.stderr.write>;
  let stdout: jest.SpiedFunction<typeof process.stdout.write>;
  beforeEach(() => {
    stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => jest.restoreAllMocks());
  const written = (spy: jest.SpiedFunction<typeof process.stderr.write>) => spy.mock.calls.map(([text]) => String(text)).join('');

  it('is listed in --help', async () => {
    expect(await main(['node', 'epilot-task-runner', command, '--help'])).toBe(0);
    expect(written(stdout)).toMatch(/--config <file> +JSON file of deployment settings/);
  });

  it('exits 2 with one stderr line naming the file and the key when the file has a bad value, before any work', async () => {
    const file = configFile(`${command}-bad.json`, { claimLeaseMs: 10 });

    const code = await main(['node', 'epilot-task-runner', command, '--config', file, '--token', 'any-token']);

    expect(code).toBe(2);
    expect(written(stderr)).toBe(`epilot-task-runner: --config ${file}: key claimLeaseMs: must be at least 1000\n`);
  });
});
