import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { parseSettings } from '../../lambdas/shared/config/settings';
import { UsageError } from './options';
import { resolveWebhookSecret } from './run';
import { newWebhookSecret } from './signed-delivery';

const settings = parseSettings({});
/** `whsec_` and then text that is no base64: standardwebhooks throws on it, so every delivery would get a 500. */
const NOT_BASE64 = 'whsec_not base64 at all!';

describe('resolveWebhookSecret', () => {
  const secretsManager = mockClient(SecretsManagerClient);
  const env = process.env.EPILOT_WEBHOOK_SECRET;
  afterEach(() => {
    secretsManager.reset();
    if (env === undefined) delete process.env.EPILOT_WEBHOOK_SECRET;
    else process.env.EPILOT_WEBHOOK_SECRET = env;
  });

  it('returns a whsec_ secret whose key is base64, as newWebhookSecret makes them', async () => {
    const secret = newWebhookSecret();

    await expect(resolveWebhookSecret({ webhookSecret: secret }, settings)).resolves.toBe(secret);
  });

  it('refuses a whsec_ --webhook-secret whose rest is not base64 with a UsageError naming --webhook-secret, not quoting the secret', async () => {
    const refusal = resolveWebhookSecret({ webhookSecret: NOT_BASE64 }, settings);

    await expect(refusal).rejects.toThrow(UsageError);
    await expect(refusal).rejects.toThrow(
      /^--webhook-secret: not a usable webhook signing secret: after whsec_ must come its key in base64/,
    );
    await expect(refusal).rejects.not.toThrow(/not base64 at all/);
  });

  it('refuses a bare whsec_ from EPILOT_WEBHOOK_SECRET with a UsageError naming EPILOT_WEBHOOK_SECRET', async () => {
    process.env.EPILOT_WEBHOOK_SECRET = 'whsec_';

    await expect(resolveWebhookSecret({}, settings)).rejects.toThrow(/^EPILOT_WEBHOOK_SECRET: not a usable webhook signing secret/);
  });

  it('refuses an unusable secret read from Secrets Manager with a UsageError naming the secret and --webhook-secret-name', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ secret: NOT_BASE64 }) });

    await expect(
      resolveWebhookSecret({ webhookSecretName: 'team/webhook' }, { ...settings, webhookSecretName: 'team/webhook' }),
    ).rejects.toThrow(/^the secret team\/webhook \(--webhook-secret-name\): not a usable webhook signing secret/);
  });

  it('names the source when the secret does not start with whsec_', async () => {
    await expect(resolveWebhookSecret({ webhookSecret: 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }, settings)).rejects.toThrow(
      '--webhook-secret: the webhook signing secret must start with whsec_',
    );
  });
});
