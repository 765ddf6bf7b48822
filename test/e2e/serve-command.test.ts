import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { newWebhookSecret } from '../../local/cli/signed-delivery';
import { startEpilotSimulator } from '../../simulator/epilot-simulator';
import { startCli } from '../support/cli-process';
import { DEMO_SEED } from '../support/local-pipeline';

const TOKEN = 'serve-test-token';

const tempDirs: string[] = [];
const tempDir = (prefix: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** The lines on stderr that are the CLI's own (Node's warnings, such as the AWS SDK's Node version notice, are not). */
const ownLines = (stderr: string) =>
  stderr.split('\n').filter((line) => line.startsWith('epilot-task-runner:') || line.startsWith('error:'));

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

/** A port nothing listens on right now (the system's pick, released again). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
