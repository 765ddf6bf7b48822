import nock from 'nock';
import * as z from 'zod';
import type { Clock } from '../clock';
import { EpilotAuthError, ErrorNames, EpilotPermanentError } from '../errors';
import { rejectionOf, strictNock } from '../../../test/support/handler-test-kit';
import { EpilotHttp, type EpilotHttpOptions, fullJitterBackoff } from './http';

const BASE = 'https://epilot.test';
const TOKEN = 'secret-token-4f7a9c';

const runSchema = z.object({ id: z.string(), execution_status: z.string() });

/** A clock whose sleep returns at once and remembers how long it was asked to wait. */
function fakeClock() {
  const sleeps: number[] = [];
  const clock: Clock = {
    now: () => Date.parse('2024-05-01T12:00:00.000Z'),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  };
  return { clock, sleeps };
}

function newHttp(options: Partial<EpilotHttpOptions> = {}) {
  const { clock, sleeps } = fakeClock();
  const requests: string[] = [];
  const http = new EpilotHttp({
    endpoints: { entity: BASE, workflow: BASE, automation: BASE },
    token: async () => TOKEN,
    timeoutMs: 1000,
    clock,
    onRequest: (call) => requests.push(`${call.method} ${call.path}`),
    ...options,
  });
  return { http, sleeps, requests };
}

const getRun = {
  api: 'automation',
  operation: 'getExecution',
  method: 'GET',
  path: '/v1/automation/executions/run-1',
  idempotent: true,
  schema: runSchema,
} as const;

const startRun = {
  api: 'automation',
  operation: 'startExecution',
  method: 'POST',
  path: '/v1/automation/executions',
  idempotent: false,
  body: { entity_id: 'e1', flow_id: 'f1' },
  schema: runSchema,
} as const;

/** What Node's socket emits; nock 14 needs an Error instance (a plain object leaves the request hanging). */
function connectionError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

strictNock();

describe('EpilotHttp', () => {
  it('sends the bearer token and JSON, and returns the parsed body', async () => {
    nock(BASE, { reqheaders: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', accept: 'application/json' } })
      .post('/v1/automation/executions', { entity_id: 'e1', flow_id: 'f1' })
      .reply(201, { id: 'run-1', execution_status: 'pending', extra: 'dropped' });
    const { http, requests } = newHttp();

    await expect(http.send(startRun)).resolves.toEqual({ id: 'run-1', execution_status: 'pending' });
    expect(requests).toEqual(['POST /v1/automation/executions']);
  });

  it('sends the query parameters', async () => {
    nock(BASE).get('/v1/automation/executions').query({ entity_id: 'e 1', size: '100' }).reply(200, { results: [] });
    const { http } = newHttp();

    await expect(
      http.send({ ...getRun, path: '/v1/automation/executions', query: { entity_id: 'e 1', size: 100 }, schema: z.unknown() }),
    ).resolves.toEqual({ results: [] });
  });

  it('uses the base URL of the API the call names', async () => {
    nock('https://automation.example').get('/v1/automation/executions/run-1').reply(200, { id: 'run-1', execution_status: 'success' });
    const { http } = newHttp({
      endpoints: { entity: 'https://entity.example', workflow: 'https://workflow.example', automation: 'https://automation.example' },
    });

    await expect(http.send(getRun)).resolves.toMatchObject({ id: 'run-1' });
  });

  it('retries an idempotent call after a 5xx, with a full-jitter backoff', async () => {
    nock(BASE).get(getRun.path).reply(502, { message: 'Bad Gateway' });
    nock(BASE).get(getRun.path).reply(200, { id: 'run-1', execution_status: 'in_progress' });
    const { http, sleeps, requests } = newHttp();

    await expect(http.send(getRun)).resolves.toEqual({ id: 'run-1', execution_status: 'in_progress' });
    expect(requests).toHaveLength(2);
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThanOrEqual(0);
    expect(sleeps[0]).toBeLessThanOrEqual(400);
  });

  it('honours Retry-After (seconds) of a 429', async () => {
    nock(BASE).get(getRun.path).reply(429, { status: 429, error: 'Too Many Requests' }, { 'Retry-After': '3' });
    nock(BASE).get(getRun.path).reply(200, { id: 'run-1', execution_status: 'success' });
    const { http, sleeps } = newHttp();

    await expect(http.send(getRun)).resolves.toMatchObject({ execution_status: 'success' });
    expect(sleeps).toEqual([3000]);
  });

  it('sleeps no Retry-After over 5 s in the Lambda: it fails at once with EpilotRateLimitedError carrying the wait, capped at 20 s', async () => {
    nock(BASE).get(getRun.path).reply(429, '', { 'Retry-After': '3600' });
    const { http, sleeps, requests } = newHttp();

    const error = await rejectionOf(http.send(getRun));

    expect(error.name).toBe(ErrorNames.epilotRateLimited);
    expect(error).toHaveProperty('retryAfterMs', 20_000);
    expect(requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('gives up after maxAttempts of 429s with an EpilotRateLimitedError carrying the last Retry-After, each retry after the asked wait', async () => {
    nock(BASE).get(getRun.path).times(3).reply(429, '', { 'Retry-After': '1' });
    const { http, sleeps, requests } = newHttp();

    const error = await rejectionOf(http.send(getRun));

    expect(error.name).toBe(ErrorNames.epilotRateLimited);
    expect(error).toHaveProperty('retryAfterMs', 1000);
    expect(requests).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
    for (const sleep of sleeps) expect(sleep).toBeGreaterThanOrEqual(1000);
  });

  it("makes no retry that could end after the call's notAfter", async () => {
    nock(BASE).get(getRun.path).reply(503, { message: 'Service Unavailable' });
    const { http, sleeps, requests } = newHttp({ timeoutMs: 1000 });
    const now = Date.parse('2024-05-01T12:00:00.000Z');

    const error = await rejectionOf(http.send({ ...getRun, notAfter: now + 1000 }));

    expect(error.name).toBe(ErrorNames.epilotTransient);
    expect(requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('gives up after maxAttempts with an EpilotTransientError naming the operation', async () => {
    nock(BASE).get(getRun.path).times(3).reply(503, { message: 'Service Unavailable' });
    const { http, sleeps, requests } = newHttp();

    const error = await rejectionOf(http.send(getRun));

    expect(error.name).toBe(ErrorNames.epilotTransient);
    expect(error.message).toBe('getExecution (GET /v1/automation/executions/run-1) answered 503: Service Unavailable');
    expect(requests).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
  });

  it('does not retry a call that is not idempotent (a POST that starts a run)', async () => {
    nock(BASE).post('/v1/automation/executions').reply(500, { status: 500, error: 'Internal' });
    const { http, sleeps, requests } = newHttp();

    const error = await rejectionOf(http.send(startRun));

    expect(error.name).toBe(ErrorNames.epilotTransient);
    expect(error.message).toContain('startExecution');
    expect(requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('does not retry a non-idempotent call after a 429 either', async () => {
    nock(BASE).post('/v1/automation/executions').reply(429, '', { 'Retry-After': '1' });
    const { http, sleeps } = newHttp();

    const error = await rejectionOf(http.send(startRun));

    expect(error.name).toBe(ErrorNames.epilotRateLimited);
    expect(error).toHaveProperty('retryAfterMs', 1000);
    expect(sleeps).toEqual([]);
  });

  it.each([
    [400, { message: 'flowId is required' }, ': flowId is required'],
    [404, 'not json', ''],
  ])('turns %s into an EpilotPermanentError naming the operation, without retrying', async (status, body, detail) => {
    nock(BASE).get(getRun.path).reply(status, body);
    const { http, sleeps, requests } = newHttp();

    const error = await rejectionOf(http.send(getRun));

    expect(error.name).toBe(ErrorNames.epilotPermanent);
    expect(error).toBeInstanceOf(EpilotPermanentError);
    expect(error).toHaveProperty('status', status);
    expect(error.message).toBe(`getExecution (GET /v1/automation/executions/run-1) answered ${status}${detail}`);
    expect(requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it.each([
    [401, { message: 'Unauthorized' }, ': Unauthorized'],
    [403, { status: 403, error: 'Forbidden' }, ': Forbidden'],
  ])(
    'turns %s into an EpilotAuthError naming the operation once every attempt was refused, dropping the cached token and reporting each refusal',
    async (status, body, detail) => {
      nock(BASE).get(getRun.path).times(3).reply(status, body);
      let invalidated = 0;
      const token = Object.assign(async () => TOKEN, {
        invalidate: () => {
          invalidated += 1;
        },
      });
      const refusals: unknown[] = [];
      const { http, sleeps, requests } = newHttp({ token, onAuthRefused: (refusal) => refusals.push(refusal) });

      const error = await rejectionOf(http.send(getRun));

      expect(error.name).toBe(ErrorNames.epilotAuth);
      expect(error).toBeInstanceOf(EpilotAuthError);
      expect(error).toHaveProperty('status', status);
      expect(error.message).toBe(`getExecution (GET /v1/automation/executions/run-1) answered ${status}${detail}`);
      expect(error.message).not.toContain(TOKEN);
      expect(invalidated).toBe(3);
      expect(requests).toHaveLength(3);
      expect(sleeps).toHaveLength(2);
      expect(refusals).toEqual(
        Array(3).fill({ call: 'getExecution (GET /v1/automation/executions/run-1)', status, message: error.message }),
      );
      expect(JSON.stringify(refusals)).not.toContain(TOKEN);
    },
  );

  it('after a 401 sends the call again, the start included, with the token read afresh (a rotated token)', async () => {
    let current = 'old-token';
    const token = Object.assign(async () => current, {
      invalidate: () => {
        current = 'new-token';
      },
    });
    nock(BASE).post(startRun.path).matchHeader('authorization', 'Bearer old-token').reply(401, { status: 401, error: 'Unauthorized' });
    nock(BASE)
      .post(startRun.path)
      .matchHeader('authorization', 'Bearer new-token')
      .reply(201, { id: 'run-1', execution_status: 'pending' });
    const { http, requests } = newHttp({ token });

    await expect(http.send(startRun)).resolves.toEqual({ id: 'run-1', execution_status: 'pending' });
    expect(requests).toHaveLength(2);
  });

  it('turns a redirect into an EpilotPermanentError instead of an empty success', async () => {
    nock(BASE).get(getRun.path).reply(301, '', { Location: 'https://elsewhere.test/' });
    const { http } = newHttp();

    const error = await rejectionOf(http.sendAllowingEmpty(getRun));

    expect(error.name).toBe(ErrorNames.epilotPermanent);
    expect(error.message).toContain('answered 301');
  });

  it('turns a body that does not match the schema into an InvalidEpilotDataError naming the field', async () => {
    nock(BASE).get(getRun.path).reply(200, { id: 'run-1' });
    const { http } = newHttp();

    const error = await rejectionOf(http.send(getRun));

    expect(error.name).toBe(ErrorNames.invalidEpilotData);
    expect(error.message).toMatch(/^getExecution .* unusable data: execution_status:/);
  });

  it('turns a body that is not JSON into an InvalidEpilotDataError', async () => {
    nock(BASE).get(getRun.path).reply(200, '<html>gateway</html>');
    const { http } = newHttp();

    const error = await rejectionOf(http.send(getRun));

    expect(error.name).toBe(ErrorNames.invalidEpilotData);
    expect(error.message).toContain('not JSON');
  });

  it('turns an empty body into an InvalidEpilotDataError for send(), and into undefined for sendAllowingEmpty()', async () => {
    nock(BASE).get(getRun.path).twice().reply(200, '');
    const { http } = newHttp();

    expect((await rejectionOf(http.send(getRun))).name).toBe(ErrorNames.invalidEpilotData);
    await expect(http.sendAllowingEmpty(getRun)).resolves.toBeUndefined();
  });

  it('refuses a body larger than maxResponseBytes as bad data', async () => {
    nock(BASE)
      .get(getRun.path)
      .reply(200, { id: 'run-1', execution_status: 'success', padding: 'x'.repeat(5000) });
    const { http } = newHttp({ maxResponseBytes: 1000 });

    const error = await rejectionOf(http.send(getRun));

    expect(error.name).toBe(ErrorNames.invalidEpilotData);
    expect(error.message).toContain('larger than the runner accepts');
  });

  it('turns a reset connection into an EpilotTransientError', async () => {
    nock(BASE).post('/v1/automation/executions').replyWithError(connectionError('ECONNRESET', 'socket hang up'));
    const { http } = newHttp();

    const error = await rejectionOf(http.send(startRun));

    expect(error.name).toBe(ErrorNames.epilotTransient);
    expect(error.message).toBe('startExecution (POST /v1/automation/executions) failed: ECONNRESET');
  });

  it('retries an idempotent call after a reset connection', async () => {
    nock(BASE).get(getRun.path).replyWithError(connectionError('ECONNRESET', 'socket hang up'));
    nock(BASE).get(getRun.path).reply(200, { id: 'run-1', execution_status: 'success' });
    const { http, requests } = newHttp();

    await expect(http.send(getRun)).resolves.toMatchObject({ execution_status: 'success' });
    expect(requests).toHaveLength(2);
  });

  it('turns a timeout into an EpilotTransientError', async () => {
    nock(BASE).post('/v1/automation/executions').delay(2000).reply(201, { id: 'run-1', execution_status: 'pending' });
    const { http } = newHttp({ timeoutMs: 100 });

    const error = await rejectionOf(http.send(startRun));

    expect(error.name).toBe(ErrorNames.epilotTransient);
    expect(error.message).toContain('startExecution');
  });

  it('never puts the token into an error', async () => {
    nock(BASE).get(getRun.path).times(3).reply(401, { message: 'Unauthorized' });
    nock(BASE).get(getRun.path).times(3).reply(500, { message: 'boom' });
    nock(BASE).get(getRun.path).reply(200, { nope: true });
    nock(BASE).post('/v1/automation/executions').replyWithError(connectionError('ECONNRESET', 'socket hang up'));
    nock(BASE).post('/v1/automation/executions').replyWithError(connectionError('EPROTO', 'unexpected protocol failure'));
    const { http } = newHttp();

    const errors = [
      await rejectionOf(http.send(getRun)),
      await rejectionOf(http.send(getRun)),
      await rejectionOf(http.send(getRun)),
      await rejectionOf(http.send(startRun)),
      await rejectionOf(http.send(startRun)),
    ];

    expect(errors.map((error) => error.name)).toEqual([
      ErrorNames.epilotAuth,
      ErrorNames.epilotTransient,
      ErrorNames.invalidEpilotData,
      ErrorNames.epilotTransient,
      ErrorNames.epilotPermanent,
    ]);
    for (const error of errors) {
      const everything = `${error.message}\n${error.stack ?? ''}\n${JSON.stringify(error)}\n${JSON.stringify(Object.entries(error))}`;
      expect(everything).not.toContain(TOKEN);
    }
  });
});

describe('fullJitterBackoff', () => {
  it('grows with the attempt and is capped at 5 seconds', () => {
    const top = () => 1;

    expect(fullJitterBackoff(1, top)).toBe(400);
    expect(fullJitterBackoff(2, top)).toBe(800);
    expect(fullJitterBackoff(10, top)).toBe(5000);
    expect(fullJitterBackoff(3, () => 0)).toBe(0);
  });
});
