import { type Serving, startServe } from '../../local/cli/commands/serve';
import { type Pipeline, startPipeline } from '../support/local-pipeline';
import { newWebhookSecret, signedDelivery } from '../../local/cli/signed-delivery';

const SECRET = newWebhookSecret();
const MUELLER = '6f1a9a52-0b7e-4c1e-9d3a-1a0000000001';

async function deliver(url: string, body: string, options: { id?: string; secret?: string } = {}) {
  const delivery = signedDelivery(body, { ...options, secret: options.secret ?? SECRET });
  const response = await fetch(url, { method: 'POST', headers: delivery.headers, body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('serve: epilot webhooks on this machine', () => {
  let pipeline: Pipeline;
  let serving: Serving;
  const lines: string[] = [];
  beforeAll(async () => {
    pipeline = await startPipeline({ webhookSecret: SECRET });
    serving = await startServe({ runner: pipeline.runner, port: 0, out: { write: (text: string) => lines.push(text) } });
  });
  afterAll(async () => {
    await serving.stop();
    await pipeline.stop();
  });

  it('runs the task a signed delivery points at, and the step is patched', async () => {
    const body = JSON.stringify({ metadata: { organization_id: 'demo', automation_name: 'Push' }, entity: { _id: MUELLER } });

    const first = await deliver(serving.url, body, { id: 'msg_mueller' });
    await pipeline.runner.idle();

    expect(first).toEqual({
      status: 202,
      body: { status: 'accepted', executions: [{ name: 'wf_solar_mueller-mueller_offer-1', outcome: 'started' }] },
    });
    const patches = pipeline.simulator.getStepPatches('wf-solar-mueller', 'mueller-offer');
    expect(patches.at(-1)?.body).toMatchObject({ status: 'COMPLETED' });
    expect(lines.join('')).toMatch(/delivery msg_mueller → 202 accepted; wf_solar_mueller-mueller_offer-1 started/);

    const replay = await deliver(serving.url, body, { id: 'msg_mueller' });
    expect(replay).toMatchObject({ status: 200, body: { status: 'duplicate' } });
    expect(pipeline.simulator.getStepPatches('wf-solar-mueller', 'mueller-offer')).toHaveLength(patches.length);
  });

  it('refuses a delivery signed with another secret and starts nothing', async () => {
    const before = pipeline.simulator.listAutomationRuns().length;

    const refused = await deliver(serving.url, JSON.stringify({ entity: { _id: MUELLER } }), {
      secret: newWebhookSecret(),
    });
    await pipeline.runner.idle();

    expect(refused.status).toBe(401);
    expect(pipeline.simulator.listAutomationRuns()).toHaveLength(before);
  });

  it('answers 404 off /webhook and 405 to GET', async () => {
    expect((await fetch(serving.url.replace('/webhook', '/other'), { method: 'POST', body: '{}' })).status).toBe(404);
    expect((await fetch(serving.url)).status).toBe(405);
  });
});
