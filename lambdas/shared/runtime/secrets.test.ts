import { secretsManagerValue } from './secrets';

/** A Secrets Manager client that answers with the next value of a script and counts its calls. */
function client(values: string[]) {
  let calls = 0;
  return {
    send: async () => {
      calls += 1;
      return { SecretString: values.shift() };
    },
    calls: () => calls,
  };
}

describe('secretsManagerValue', () => {
  it('reads the secret once and serves the cached value afterwards', async () => {
    const sm = client(['token-1', 'token-2']);
    const token = secretsManagerValue('epilot-token', 'token', sm);

    expect([await token(), await token()]).toEqual(['token-1', 'token-1']);
    expect(sm.calls()).toBe(1);
  });

  it('reads the secret again after invalidate (a 401/403 after the token was rotated)', async () => {
    const sm = client(['old-token', '{"token":"new-token"}']);
    const token = secretsManagerValue('epilot-token', 'token', sm);
    await token();

    token.invalidate();

    expect(await token()).toBe('new-token');
    expect(sm.calls()).toBe(2);
  });
});
