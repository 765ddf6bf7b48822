import * as net from 'node:net';
import { startServe } from '../../local/cli/commands/serve';
import { newWebhookSecret } from '../../local/cli/signed-delivery';
import { scaledClock } from '../../lambdas/shared/clock';
import { startEpilotSimulator } from '../../simulator/epilot-simulator';
import { freePort, ownLines, startCli, temporaryFolders } from '../support/cli-process';
import { DEMO_SEED, startPipeline } from '../support/local-pipeline';

const TOKEN = 'serve-test-token';

const tempDir = temporaryFolders();

/**
 * `serve` run until it either exits or says it listens (then it is stopped): whichever came first, so a `serve`
 * that listens where it should have refused to start fails the test at once instead of waiting for a timeout.
 */
async function serveUntilListeningOrExit(args: string[], env: Record<string, string>) {
  const serve = startCli(['serve', ...args], env);
  const first = await Promise.race([
    serve.exited.then(() => 'exited' as const),
    serve.line(/listening for epilot webhooks/).then(
      () => 'listening' as const,
      () => 'exited' as const,
    ),
  ]);
  if (first === 'listening') serve.child.kill('SIGTERM');
  const { code } = await serve.exited;
  return { first, code, stderr: serve.stderr() };
}

describe('epilot-task-runner serve, before it listens', () => {
  // Side by side, each with its own simulator and state dir (concurrent tests start before beforeAll hooks run).
  it.concurrent.each([
    ['a wrong token', { EPILOT_API_TOKEN: 'wrong' }, [], 1, /^epilot-task-runner: epilot rejected the API token \(401\)/],
    ['an unreachable API', {}, ['--epilot-api-url', 'http://127.0.0.1:9'], 1, /^epilot-task-runner: the epilot API is unreachable: /],
    [
      'a whsec_ secret whose rest is not base64',
      { EPILOT_WEBHOOK_SECRET: 'whsec_not base64!' },
      [],
      2,
      /^epilot-task-runner: EPILOT_WEBHOOK_SECRET: not a usable webhook signing secret/,
    ],
  ])('exits without listening, with one line on stderr and the exit-code rule, for %s', async (_case, env, extra, exitCode, message) => {
    const simulator = await startEpilotSimulator({ token: TOKEN, seed: DEMO_SEED });
    const args = [
      '--port',
      String(await freePort()),
      '--epilot-api-url',
      simulator.url,
      '--state-dir',
      tempDir('serve-refused-'),
      ...extra,
    ];

    const result = await serveUntilListeningOrExit(args, {
      EPILOT_API_TOKEN: TOKEN,
      EPILOT_WEBHOOK_SECRET: newWebhookSecret(),
      ...env,
    }).finally(() => simulator.stop());

    expect(result.first).toBe('exited');
    expect(result.code).toBe(exitCode);
    expect(ownLines(result.stderr)).toEqual([expect.stringMatching(message)]);
  });
});

describe('epilot-task-runner serve, its port', () => {
  it('refuses a --port another process listens on with one line naming --port, exit 2, as simulate does', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    const simulator = await startEpilotSimulator({ token: TOKEN, seed: DEMO_SEED });
    const args = ['--port', String(port), '--epilot-api-url', simulator.url, '--state-dir', tempDir('serve-port-')];

    const result = await serveUntilListeningOrExit(args, { EPILOT_API_TOKEN: TOKEN, EPILOT_WEBHOOK_SECRET: newWebhookSecret() }).finally(
      async () => {
        await simulator.stop();
        await new Promise<void>((resolve) => blocker.close(() => resolve()));
      },
    );

    expect(result).toMatchObject({ first: 'exited', code: 2 });
    expect(ownLines(result.stderr)).toEqual([
      `epilot-task-runner: --port ${port} cannot be used (EADDRINUSE): pass another port, or --port 0 for any free one`,
    ]);
  });
});

describe('serve with a sweep schedule', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('runs the next scheduled sweep on time while a task execution of the first sweep still waits on its hung automation, and starts it no second run', async () => {
    // Only the schedule's interval is faked, so a minute passes at once; HTTP, DynamoDB and the clocks keep real time.
    jest.useFakeTimers({
      doNotFake: [
        'Date',
        'hrtime',
        'nextTick',
        'performance',
        'queueMicrotask',
        'setImmediate',
        'clearImmediate',
        'setTimeout',
        'clearTimeout',
      ],
    });
    // hoffmann-erp's automation never ends; the runner gives up on it after 40 simulated seconds, 4 s of real time.
    const pipeline = await startPipeline({ settings: { automationTimeoutMs: 40_000 } });
    const lines: string[] = [];
    const serving = await startServe({
      runner: pipeline.runner,
      port: 0,
      sweepRateMinutes: 1,
      out: { write: (text: string) => lines.push(text) },
    });
    const sweepLines = () => lines.filter((text) => text.includes(' sweep: '));
    const hungStep = () => pipeline.simulator.getStep('wf-maintenance-hoffmann', 'hoffmann-erp')?.status;
    try {
      await waitFor(() => sweepLines().length === 1, 20_000);
      // The first sweep ends once it has started its task executions; the hung one's run comes a moment later.
      await waitFor(() => pipeline.simulator.runsFor('wf-maintenance-hoffmann', 'hoffmann-erp').length === 1, 20_000);
      jest.advanceTimersByTime(60_000);
      await waitFor(() => sweepLines().length === 2, 3_000);

      expect(hungStep()).not.toBe('FAILED');
      expect(pipeline.simulator.runsFor('wf-maintenance-hoffmann', 'hoffmann-erp')).toEqual([
        expect.objectContaining({ status: 'in_progress' }),
      ]);
      expect(sweepLines()[1]).toMatch(/sweep: \d+ candidates, 0 started, [1-9]\d* already running/);
    } finally {
      await serving.stop();
      await pipeline.stop();
    }
    expect(hungStep()).toBe('FAILED');
  });
});

describe('epilot-task-runner serve, per-task lines', () => {
  it('names, for each task execution that ended, the automation status and the step status it patched', async () => {
    // The runner's and the simulator's clocks run 20x: the demo's automations end in well under a second, and the
    // one that never ends reaches --automation-timeout-ms 3000 in 150 ms.
    const simulator = await startEpilotSimulator({ token: TOKEN, seed: DEMO_SEED, clock: scaledClock(20) });
    const serve = startCli(
      [
        'serve',
        ...['--port', String(await freePort()), '--epilot-api-url', simulator.url, '--state-dir', tempDir('serve-lines-')],
        ...['--sweep-rate-minutes', '1', '--poll-interval-ms', '200', '--automation-timeout-ms', '3000', '--time-scale', '20'],
      ],
      { EPILOT_API_TOKEN: TOKEN, EPILOT_WEBHOOK_SECRET: newWebhookSecret() },
    );
    try {
      const line = async (execution: string) => (await serve.line(new RegExp(`task execution ${execution}\\b.*$`)))[0];

      expect(await line('wf_solar_mueller-mueller_offer-1')).toMatch(
        /: automation success → step COMPLETED \(entity \S+, trigger sweep\)$/,
      );
      expect(await line('wf_wallbox_schmidt-schmidt_credit-1')).toMatch(/: automation failed → step FAILED \(entity /);
      expect(await line('wf_maintenance_hoffmann-hoffmann_erp-1')).toMatch(/: automation timed out, cancelled → step FAILED \(entity /);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited.finally(() => simulator.stop());
    }
    expect(await serve.exited).toEqual({ code: 0, signal: null });
  });
});

/** Resolves once `done()` holds (checked every 20 ms of real time); rejects after `withinMs`. */
async function waitFor(done: () => boolean, withinMs: number): Promise<void> {
  const until = Date.now() + withinMs;
  while (!done()) {
    if (Date.now() > until) throw new Error(`not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
