import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { WebhookResponse } from '../../lambdas/webhook/webhook';
import { newWebhookSecret, signedDelivery } from '../../local/cli/signed-delivery';
import { capturingLogger, logLines } from '../support/capturing-logger';
import { deploymentSettings } from '../../lib/deployment-settings';
import { EpilotTaskRunnerStack } from '../../lib/stack';
import type { SweepReport } from '../../local/runner/local-runner';
import { renderSummaryTable, sweepSummaryJson } from '../../local/cli/report';
import { createLocalApp, synthesizeTemplate } from '../../local/emulator/synthesized-definitions';
import { type EpilotSimulator, startEpilotSimulator } from '../../simulator/epilot-simulator';
import { DEMO_SEED, type Pipeline, startPipeline } from '../support/local-pipeline';

/**
 * The API token and the webhook signing secret must never reach a log line, an error message, a report or the
 * template, even at DEBUG and even when epilot echoes the token back in an error body. Every line a task state
 * writes carries the task's ids, and the run's id once there is a run.
 */

const TOKEN = `tok_${randomBytes(18).toString('hex')}`;
const SECRET = newWebhookSecret();
/** What the secret is made of, without the prefix (standardwebhooks decodes it): must not appear either. */
const SECRET_KEY = SECRET.slice('whsec_'.length);
const FORBIDDEN = [TOKEN, SECRET, SECRET_KEY];

type LogLine = Record<string, unknown>;

function expectNoSecrets(what: string, text: string): void {
  for (const secret of FORBIDDEN) {
    if (text.includes(secret))
      throw new Error(`${what} contains a secret: …${text.slice(Math.max(0, text.indexOf(secret) - 80), text.indexOf(secret))}`);
  }
}

/**
 * Lines written from a task state carry `stateMachineExecution`; each must name the workflow execution and task,
 * and, once a line of that execution has named the automation run, every later line must too.
 */
function expectTaskIds(lines: LogLine[]): number {
  const runSeen = new Set<string>();
  let checked = 0;
  for (const line of lines) {
    const execution = line.stateMachineExecution;
    if (typeof execution !== 'string') continue;
    checked++;
    expect(line).toMatchObject({ workflowExecutionId: expect.any(String), taskId: expect.any(String) });
    if (runSeen.has(execution)) expect(line).toMatchObject({ automationExecutionId: expect.any(String) });
    if (typeof line.automationExecutionId === 'string') runSeen.add(execution);
  }
  return checked;
}

const NEW_ENTITY = '6f1a9a52-0b7e-4c1e-9d3a-1a00000000aa';

function signed(body: string, options: { id: string; secret?: string; at?: Date }) {
  return signedDelivery(body, { ...options, secret: options.secret ?? SECRET });
}

describe('no secret in logs, outputs or the template; ids on every task log line', () => {
  const chunks: string[] = [];
  let pipeline: Pipeline;
  let report: SweepReport;
  const responses: WebhookResponse[] = [];

  beforeAll(async () => {
    pipeline = await startPipeline({ token: TOKEN, webhookSecret: SECRET, logger: capturingLogger(chunks, { logLevel: 'DEBUG' }) });
    // epilot echoing the token in error bodies (a transient one on a status call, a permanent one on a start).
    pipeline.simulator.scriptFault({
      operation: 'automation.getExecution',
      // More than the HTTP client's own attempts, so the failure reaches the state and its log line.
      times: 3,
      fault: { status: 500, body: { status: 500, error: `upstream refused Authorization: Bearer ${TOKEN}` } },
    });
    // A refused token (403) is tried again with the token read afresh, and its refusal logged; a start refused
    // for good (400) fails its step with the reason. Both bodies echo the token.
    pipeline.simulator.scriptFault({
      operation: 'automation.startExecution',
      times: 1,
      fault: { status: 403, body: { status: 403, error: `token ${TOKEN} may not start flows` } },
    });
    pipeline.simulator.scriptFault({
      operation: 'automation.startExecution',
      times: 1,
      fault: { status: 400, body: { status: 400, error: `token ${TOKEN} may not start this flow` } },
    });
    pipeline.simulator.scriptFault({ operation: 'automation.startExecution', times: 1, fault: 'lostResponse' });
    report = await pipeline.runner.sweep();

    // A webhook for a new task (its entity sent without workflows, so it is looked up), a replay, a forgery.
    pipeline.simulator.addEntity({ _id: NEW_ENTITY, _schema: 'opportunity', _title: 'Webhook customer' });
    pipeline.simulator.addWorkflowExecution({
      id: 'wf-webhook-secrets',
      definitionId: 'solarWf',
      name: 'Webhook secrets',
      entityIds: [NEW_ENTITY],
      flow: [
        { id: 'webhook-offer', name: 'Send offer', executionType: 'AUTOMATION', automationConfig: { flowId: 'flow-send-offer' } },
        { id: 'webhook-next', name: 'Call' },
      ],
    });
    const body = JSON.stringify({ metadata: { automation_name: 'push' }, entity: { _id: NEW_ENTITY } });
    responses.push(await pipeline.runner.receiveWebhook(signed(body, { id: 'msg_secrets_1' })));
    await pipeline.runner.idle();
    responses.push(await pipeline.runner.receiveWebhook(signed(body, { id: 'msg_secrets_1' })));
    responses.push(await pipeline.runner.receiveWebhook(signed(body, { id: 'msg_forged', secret: newWebhookSecret() })));
    responses.push(await pipeline.runner.receiveWebhook(signed(body, { id: 'msg_stale', at: new Date(Date.now() - 3_600_000) })));
  });
  afterAll(() => pipeline.stop());

  it('the run really went through faults, a webhook and refusals, logged at DEBUG', () => {
    expect(report.sweepStatus).toBe('SUCCEEDED');
    expect(report.tasks.length).toBeGreaterThanOrEqual(8);
    expect(responses.map((response) => response.statusCode)).toEqual([202, 200, 401, 401]);
    expect(pipeline.simulator.getWorkflowExecution('wf-webhook-secrets')).toMatchObject({
      flow: [expect.objectContaining({ id: 'webhook-offer', status: 'COMPLETED' }), expect.anything()],
    });
    const lines = logLines(chunks);
    expect(lines.some((line) => line.level === 'DEBUG')).toBe(true);
    expect(pipeline.simulator.traffic.filter((exchange) => exchange.fault?.startsWith('scripted:')).length).toBe(6);
    expect(lines.some((line) => line.message === 'Webhook refused: bad signature')).toBe(true);
    // The echoed error bodies did reach the runner: they are in the logs, redacted.
    expect(chunks.join('')).toContain('[redacted]');
    expect(
      lines.some((line) => line.level === 'ERROR' && JSON.stringify(line).includes('answered 403: token [redacted] may not start flows')),
    ).toBe(true);
    expect(JSON.stringify(sweepSummaryJson(report))).toMatch(/answered 400: token \[redacted\] may not start this flow/);
  });

  it('neither the token nor the signing secret is in any log line, error, report or webhook answer', () => {
    expectNoSecrets('logs', chunks.join(''));
    expectNoSecrets('sweep report', JSON.stringify(report));
    expectNoSecrets('sweep --json summary', JSON.stringify(sweepSummaryJson(report)));
    expectNoSecrets('summary table', renderSummaryTable(report));
    expectNoSecrets('task reports', JSON.stringify(pipeline.runner.taskReports()));
    expectNoSecrets('webhook answers', JSON.stringify(responses));
    for (const task of report.tasks) expectNoSecrets(`error of ${task.name}`, `${task.error ?? ''} ${task.cause ?? ''}`);
  });

  it('every line from a task state carries workflowExecutionId and taskId, and automationExecutionId once the run started', () => {
    const lines = logLines(chunks);
    expect(expectTaskIds(lines)).toBeGreaterThan(50);
    const patched = lines.filter((line) => line.message === 'Patched workflow step');
    expect(patched.length).toBeGreaterThanOrEqual(8);
    const runMessages = ['Automation run finished', 'Status call failed; polling on', 'Cancelled automation run'];
    const runLines = lines.filter((candidate) => runMessages.includes(String(candidate.message)));
    // The sweep finishes runs and cancels the demo's never-ending one: without these lines the loop below checks nothing.
    const count = (message: string) => runLines.filter((line) => line.message === message).length;
    expect(count('Automation run finished')).toBeGreaterThanOrEqual(1);
    expect(count('Cancelled automation run')).toBeGreaterThanOrEqual(1);
    for (const line of runLines) {
      expect(line).toMatchObject({
        workflowExecutionId: expect.any(String),
        taskId: expect.any(String),
        automationExecutionId: expect.any(String),
      });
    }
  });

  it('the synthesized CloudFormation template holds only secret names, even with the secrets in the environment', () => {
    const saved = { token: process.env.EPILOT_API_TOKEN, secret: process.env.EPILOT_WEBHOOK_SECRET };
    process.env.EPILOT_API_TOKEN = TOKEN;
    process.env.EPILOT_WEBHOOK_SECRET = SECRET;
    try {
      const stack = new EpilotTaskRunnerStack(createLocalApp(), 'SecretsCheck', { settings: deploymentSettings({}) });
      const template = JSON.stringify(synthesizeTemplate(stack));
      expectNoSecrets('template', template);
      expect(template).toContain('epilot-task-runner/api-token');
    } finally {
      if (saved.token === undefined) delete process.env.EPILOT_API_TOKEN;
      else process.env.EPILOT_API_TOKEN = saved.token;
      if (saved.secret === undefined) delete process.env.EPILOT_WEBHOOK_SECRET;
      else process.env.EPILOT_WEBHOOK_SECRET = saved.secret;
    }
  });
});

describe('sweep --json --log-level DEBUG: no token on stdout or stderr', () => {
  const run = promisify(execFile);
  const CLI = path.join(__dirname, '..', '..', 'cli', 'epilot-task-runner.cjs');
  const WRONG_TOKEN = `wrong_${randomBytes(18).toString('hex')}`;
  let simulator: EpilotSimulator;
  let stateDir: string;
  beforeAll(async () => {
    simulator = await startEpilotSimulator({ token: TOKEN, seed: DEMO_SEED });
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'secrets-in-logs-'));
  });
  afterAll(async () => {
    await simulator.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  async function cli(token: string) {
    const args = [
      'sweep',
      '--epilot-api-url',
      simulator.url,
      '--json',
      '--log-level',
      'DEBUG',
      '--state-dir',
      stateDir,
      '--poll-interval-ms',
      '200',
      '--automation-timeout-ms',
      '3000',
    ];
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
        env: { ...process.env, EPILOT_API_TOKEN: token, POWERTOOLS_LOG_LEVEL: '' },
        timeout: 60_000,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: failed.code ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  }

  it('a full sweep logs at DEBUG with ids and prints its summary, never the token', async () => {
    const result = await cli(TOKEN);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ sweep: { status: 'SUCCEEDED' } });
    expectNoSecrets('stdout', result.stdout);
    expectNoSecrets('stderr', result.stderr);
    const lines = result.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
    expect(lines.some((line) => line.level === 'DEBUG' || line.level === 'INFO')).toBe(true);
    expect(expectTaskIds(lines)).toBeGreaterThan(20);
  });

  it('a wrong token is refused in one line that names neither token', async () => {
    const result = await cli(WRONG_TOKEN);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/epilot rejected the API token \(401\)/);
    for (const text of [result.stdout, result.stderr]) {
      expect(text).not.toContain(WRONG_TOKEN);
      expectNoSecrets('output', text);
    }
  });
});
