import { invokeWithinLimits, StatesError } from './lambda-semantics';

const limits = { functionName: 'GetAutomationStatus', timeoutSeconds: 3, realTimeoutMs: 30 };

async function failureOf(promise: Promise<unknown>): Promise<StatesError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof StatesError)) throw new Error(`expected a StatesError, got ${String(error)}`);
  return error;
}

describe('invokeWithinLimits (Lambda-level failures as lambda:invoke reports them)', () => {
  it('returns the handler result when it ends within its timeout', async () => {
    await expect(invokeWithinLimits(async () => 'done', limits)).resolves.toBe('done');
  });

  it('fails a handler that runs past its timeout with Sandbox.Timedout, retryable and catchable, and a runtime-like Cause', async () => {
    const error = await failureOf(invokeWithinLimits(() => new Promise((resolve) => setTimeout(resolve, 500)), limits));

    expect(error.name).toBe('Sandbox.Timedout');
    expect(error.isRetryable && error.isCatchable).toBe(true);
    expect(JSON.parse(error.message)).toMatchObject({
      errorType: 'Sandbox.Timedout',
      errorMessage: expect.stringMatching(/Task timed out after 3\.00 seconds$/),
    });
  });

  it('an injected throttle fails at once with Lambda.TooManyRequestsException without running the handler', async () => {
    let ran = false;
    const error = await failureOf(
      invokeWithinLimits(
        async () => {
          ran = true;
        },
        { ...limits, fault: 'throttle' },
      ),
    );

    expect(error.name).toBe('Lambda.TooManyRequestsException');
    expect(ran).toBe(false);
  });

  it('an injected timeout hangs the invocation until its timeout, then fails with Sandbox.Timedout without running the handler', async () => {
    let ran = false;
    const started = Date.now();
    const error = await failureOf(
      invokeWithinLimits(
        async () => {
          ran = true;
        },
        { ...limits, fault: 'timeout' },
      ),
    );

    expect(error.name).toBe('Sandbox.Timedout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(ran).toBe(false);
  });
});
