import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { version } from '../../package.json';
import { DEMO_MARKER } from '../../local/cli/demo-state-dir';
import { newWebhookSecret } from '../../local/cli/signed-delivery';
import { scaledClock } from '../../lambdas/shared/clock';
import { type EpilotSimulator, startEpilotSimulator } from '../../simulator/epilot-simulator';
import { freePort, ownLines, runCli, startCli, temporaryFolders } from '../support/cli-process';
import { DEMO_SEED } from '../support/local-pipeline';

/** The runner's and the simulator's clocks run this much faster, so automation runs end in a fraction of a second. */
const TIME_SCALE = 20;
const FAST = ['--poll-interval-ms', '200', '--automation-timeout-ms', '3000', '--time-scale', String(TIME_SCALE)];

const tempDir = temporaryFolders();

describe('epilot-task-runner demo', () => {
  it('refuses a --state-dir folder it did not create with one line and exit 2, and the file in it survives', async () => {
    const dir = tempDir('demo-foreign-');
    fs.writeFileSync(path.join(dir, 'precious.txt'), 'keep me');

    const result = await runCli(['demo', '--state-dir', dir]);

    expect(result.code).toBe(2);
    expect(ownLines(result.stderr)).toEqual([expect.stringMatching(/^epilot-task-runner: --state-dir .* not a folder the demo made/)]);
    expect(fs.readFileSync(path.join(dir, 'precious.txt'), 'utf8')).toBe('keep me');
    expect(result.stdout).toBe('');
  });

  it('refuses a --state-dir that is a file with one line and exit 2, and leaves the file as it was', async () => {
    const file = path.join(tempDir('demo-file-'), 'notes.txt');
    fs.writeFileSync(file, 'keep me');

    const result = await runCli(['demo', '--state-dir', file]);

    expect(result.code).toBe(2);
    expect(ownLines(result.stderr)).toEqual([expect.stringMatching(/^epilot-task-runner: --state-dir .* is a file, not a folder/)]);
    expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
  });

  it('--json prints one JSON document holding every sweep, in a new --state-dir it marks and may reuse', async () => {
    const dir = path.join(tempDir('demo-own-'), 'state');

    const first = await runCli(['demo', '--json', '--state-dir', dir, '--time-scale', String(TIME_SCALE)]);
    const again = await runCli(['demo', '--json', '--state-dir', dir, '--time-scale', String(TIME_SCALE)]);

    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout) as { sweeps: Array<{ sweep: { status: string }; tasks: unknown[] }> };
    expect(summary.sweeps.map((sweep) => sweep.tasks.length)).toEqual([8, 1, 0]);
    expect(summary.sweeps.every((sweep) => sweep.sweep.status === 'SUCCEEDED')).toBe(true);
    expect(fs.existsSync(path.join(dir, DEMO_MARKER))).toBe(true);
    // Its own folder, emptied: the new organisation's tasks all start again.
    expect(again.code).toBe(0);
    expect((JSON.parse(again.stdout) as typeof summary).sweeps.map((sweep) => sweep.tasks.length)).toEqual([8, 1, 0]);
  });

  it('prints every line, the summary table of the demo organisation included, within 100 characters', async () => {
    const result = await runCli(['demo', '--time-scale', String(TIME_SCALE)]);

    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines.filter((line) => line.startsWith('workflow '))).toHaveLength(2);
    expect(lines.filter((line) => line.length > 100)).toEqual([]);
  });
});

describe('epilot-task-runner --version and --help', () => {
  it('--version prints the version in package.json and exits 0', async () => {
    const result = await runCli(['--version']);

    expect(result).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  it('sweep --help shows a setting’s range and default and the exit-code rule', async () => {
    const result = await runCli(['sweep', '--help']);

    expect(result.code).toBe(0);
    expect(result.stdout.replace(/\s+/g, ' ')).toContain('one automation run (100–60000, default: 1000)');
    expect(result.stdout).toMatch(/Exit codes:\n {2}0 +done.*\n {2}1 +the work failed[\s\S]*?\n {2}2 +bad usage or configuration/);
  });

  // Side by side: each is a CLI start and nothing else.
  it.concurrent.each([
    ['an out-of-range setting', ['sweep', '--token', 't', '--poll-interval-ms', '50'], /option --poll-interval-ms: must be at least 100/],
    ['a bad local option', ['sweep', '--token', 't', '--concurrency', '0'], /--concurrency must be a positive whole number/],
    ['an unknown option', ['sweep', '--frobnicate'], /unknown option '--frobnicate'/],
    ['an out-of-range fault rate', ['simulate', '--reset-rate', '2'], /--reset-rate must be a number, 0–1/],
    ['a --url that is no URL', ['deliver', '--entity-id', 'e1', '--url', 'receiver'], /--url must be an http\(s\) URL/],
    [
      'a secret that cannot sign',
      ['deliver', '--entity-id', 'e1', '--webhook-secret', 'whsec_!!'],
      /--webhook-secret: not a usable webhook signing secret/,
    ],
    ['a --task-id alone', ['deliver', '--entity-id', 'e1', '--task-id', 't1'], /--workflow-execution-id and --task-id together/],
  ])('exits 2 with one line saying what is wrong for %s', async (_case, args, message) => {
    const result = await runCli(args);

    expect(result.code).toBe(2);
    expect(ownLines(result.stderr)).toEqual([expect.stringMatching(message)]);
  });
});

describe('epilot-task-runner simulate', () => {
  it('refuses a seed file with a bad field in one line naming the file and the field, exit 2', async () => {
    const seed = path.join(tempDir('simulate-seed-'), 'organisation.json');
    fs.writeFileSync(seed, JSON.stringify({ flows: [{ id: 'f1', name: 'Flow', outcome: 'exploded' }] }));

    const result = await runCli(['simulate', '--seed', seed, '--port', '0']);

    expect(result.code).toBe(2);
    expect(ownLines(result.stderr)).toEqual([expect.stringContaining(`seed file ${seed}: flows[0].outcome`)]);
  });

  it('refuses a --port in use in one line naming --port, exit 2', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as net.AddressInfo;

    const result = await runCli(['simulate', '--port', String(port)]).finally(() => taken.close());

    expect(result.code).toBe(2);
    expect(ownLines(result.stderr)).toEqual([
      `epilot-task-runner: --port ${port} cannot be used (EADDRINUSE): pass another port, or --port 0 for any free one`,
    ]);
  });

  it('serves the organisation at the URL it prints; a sweep there patches the tasks; SIGINT stops it with exit 0', async () => {
    const simulate = startCli(['simulate', '--port', '0', '--time-scale', String(TIME_SCALE)]);
    try {
      const [, url] = await simulate.line(/base URL: +(http:\/\/127\.0\.0\.1:\d+)/);
      const [, token] = await simulate.line(/API token: +(\S+)/);
      // The example it prints carries the scaled clock's origin, so the runner's deadlines match the simulator's runs.
      const [example] = await simulate.line(/npx epilot-task-runner sweep .*/);
      const exampleFlags = example.slice(example.indexOf('--epilot-api-url')).split(' ');
      expect(exampleFlags).toEqual(['--epilot-api-url', url, '--time-scale', String(TIME_SCALE), '--time-origin', expect.any(String)]);
      const stateDir = tempDir('simulate-sweep-');

      const sweep = await runCli(['sweep', ...exampleFlags, '--json', '--state-dir', stateDir, ...FAST.slice(0, 4)], {
        EPILOT_API_TOKEN: token ?? '',
      });
      const plan = await runCli(['sweep', '--epilot-api-url', url ?? '', '--token', token ?? '', '--dry-run', '--json']);

      expect(sweep.code).toBe(0);
      const tasks = (JSON.parse(sweep.stdout) as { tasks: Array<{ taskId: string; outcome: string; stepStatus?: string }> }).tasks;
      expect(tasks).toHaveLength(8);
      expect(tasks.every((task) => task.outcome === 'patched' && task.stepStatus !== undefined)).toBe(true);
      // Read back from the simulator: only the task the workflows moved on to is waiting now.
      const waiting = (JSON.parse(plan.stdout) as { tasks: Array<{ taskId: string; wouldRun: boolean }> }).tasks;
      expect(waiting.filter((task) => task.wouldRun).map((task) => task.taskId)).toEqual(['richter-notify']);
    } finally {
      simulate.child.kill('SIGINT');
    }
    expect(await simulate.exited).toEqual({ code: 0, signal: null });
    expect(simulate.lines).toContain('stopped');
  });
});

describe('epilot-task-runner deliver', () => {
  let simulator: EpilotSimulator;
  const token = 'deliver-test-token';
  beforeAll(async () => {
    simulator = await startEpilotSimulator({ token, seed: DEMO_SEED, clock: scaledClock(TIME_SCALE) });
  });
  afterAll(async () => {
    await simulator.stop();
  });

  it('sends a signed delivery that serve answers 202 and runs; the same webhook-id again is answered 200 duplicate', async () => {
    const secret = newWebhookSecret();
    const port = await freePort();
    const serve = startCli(
      ['serve', '--port', String(port), '--epilot-api-url', simulator.url, '--state-dir', tempDir('deliver-serve-'), ...FAST],
      { EPILOT_API_TOKEN: token, EPILOT_WEBHOOK_SECRET: secret },
    );
    try {
      await serve.line(/listening for epilot webhooks/);
      const args = ['deliver', '--url', `http://127.0.0.1:${port}/webhook`, '--webhook-id', 'msg_deliver_test'];
      const task = ['--entity-id', '6f1a9a52-0b7e-4c1e-9d3a-1a0000000001', '--workflow-execution-id', 'wf-solar-mueller'];

      const first = await runCli([...args, ...task, '--task-id', 'mueller-offer'], { EPILOT_WEBHOOK_SECRET: secret });
      const repeated = await runCli([...args, ...task, '--task-id', 'mueller-offer', '--webhook-secret', secret]);
      const wrongSecret = await runCli([
        ...args.slice(0, 3),
        ...task,
        '--task-id',
        'mueller-offer',
        '--webhook-secret',
        newWebhookSecret(),
      ]);

      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/^202 Accepted .*\n\{"status":"accepted","executions":\[\{"name":"wf_solar_mueller-mueller_offer-1"/);
      expect(repeated.code).toBe(0);
      expect(repeated.stdout).toMatch(/^200 OK .*\n\{"status":"duplicate"/);
      expect(wrongSecret.code).toBe(1);
      expect(wrongSecret.stdout).toMatch(/^401 Unauthorized/);
      expect(ownLines(wrongSecret.stderr)).toEqual(['epilot-task-runner: delivery failed: the receiver answered 401']);
      await serve.line(/task execution wf_solar_mueller-mueller_offer-1: automation success → step COMPLETED/);
      expect(simulator.getStep('wf-solar-mueller', 'mueller-offer')?.status).toBe('COMPLETED');
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });

  it('says in one line, exit 1, when nothing listens at --url', async () => {
    const port = await freePort();

    const result = await runCli([
      'deliver',
      '--url',
      `http://127.0.0.1:${port}/webhook`,
      '--entity-id',
      'e1',
      '--webhook-secret',
      newWebhookSecret(),
    ]);

    expect(result.code).toBe(1);
    expect(ownLines(result.stderr)).toEqual([
      expect.stringMatching(/nothing answered at --url .* \(ECONNREFUSED\): is `serve` running there\?/),
    ]);
  });
});
