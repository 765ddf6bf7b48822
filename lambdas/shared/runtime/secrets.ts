import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { TokenProvider } from '../epilot/http';

const SECRET_CACHE_MS = 5 * 60_000;

/**
 * A secret from Secrets Manager: the plain value, or the `field` of a JSON secret. It is cached per container for a
 * few minutes so a rotated secret is picked up without a redeploy; neither the value nor the JSON is ever logged.
 */
export function secretsManagerValue(
  secretName: string,
  field: string,
  client: Pick<SecretsManagerClient, 'send'> = new SecretsManagerClient({}),
): (() => Promise<string>) & { invalidate: () => void } {
  let cached: { value: string; until: number } | undefined;
  const read = async () => {
    if (cached && cached.until > Date.now()) return cached.value;
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretName }));
    const value = valueFromSecret(SecretString, field);
    if (!value) throw new Error(`Secret ${secretName} is empty, or JSON without a "${field}" string`);
    cached = { value, until: Date.now() + SECRET_CACHE_MS };
    return value;
  };
  // A 401/403 calls this: the next read goes to Secrets Manager, so a rotated token is picked up at once.
  return Object.assign(read, {
    invalidate: () => {
      cached = undefined;
    },
  });
}

/** The epilot API token: plain, or JSON `{"token": "..."}`. */
export const secretsManagerToken = (secretName: string): TokenProvider => secretsManagerValue(secretName, 'token');

/** The webhook signing secret (`whsec_...`): plain, or JSON `{"secret": "..."}`. */
export const secretsManagerWebhookSecret = (secretName: string) => secretsManagerValue(secretName, 'secret');

function valueFromSecret(secret: string | undefined, field: string): string | undefined {
  const text = secret?.trim();
  if (!text) return undefined;
  if (!text.startsWith('{')) return text;
  try {
    const value = (JSON.parse(text) as Record<string, unknown>)[field];
    return typeof value === 'string' && value ? value : undefined;
  } catch {
    return undefined;
  }
}
