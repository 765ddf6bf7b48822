import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { systemClock } from '../clock';
import { AutomationApi } from '../epilot/automation-api';
import { EntityApi } from '../epilot/entity-api';
import { EpilotHttp, type TokenProvider } from '../epilot/http';
import { WorkflowsV1Engine } from '../epilot/workflows-v1';
import { DeliveryRecords } from '../delivery-records';
import { createLogger } from '../logger';
import { EnvNames, type LambdaConfig, lambdaConfigFromEnv, required } from '../settings';
import { TaskRecords } from '../task-records';

/**
 * Builds a Lambda's dependencies from its environment, once per container. Configuration is checked when the
 * module loads (a bad variable fails the cold start, naming the variable); clients are created on first use, so
 * each function only pays for the ones it touches.
 */
export const config: LambdaConfig = lambdaConfigFromEnv();
export const logger = createLogger();
export const clock = systemClock;
export const settings = config.settings;

let http: EpilotHttp | undefined;
function epilotHttp(): EpilotHttp {
  http ??= new EpilotHttp({
    endpoints: config.endpoints,
    token: secretsManagerToken(required(config.tokenSecretName, EnvNames.tokenSecretName)),
    timeoutMs: settings.httpTimeoutMs,
    clock,
  });
  return http;
}

export const workflows = () => new WorkflowsV1Engine(epilotHttp());
export const automations = () => new AutomationApi(epilotHttp());
export const entities = () => new EntityApi(epilotHttp());
export const records = () => new TaskRecords(new DynamoDBClient({}), required(config.taskTableName, EnvNames.taskTableName));
export const deliveries = () =>
  new DeliveryRecords(new DynamoDBClient({}), required(config.taskTableName, EnvNames.taskTableName));

const TOKEN_CACHE_MS = 5 * 60_000;

/**
 * The API token lives in Secrets Manager, as the plain token or as JSON with a `token` field. It is cached per
 * container for a few minutes so a rotated token is picked up without a redeploy.
 */
export function secretsManagerToken(secretName: string, client = new SecretsManagerClient({})): TokenProvider {
  let cached: { token: string; until: number } | undefined;
  return async () => {
    if (cached && cached.until > Date.now()) return cached.token;
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretName }));
    const token = tokenFromSecret(SecretString);
    if (!token) throw new Error(`Secret ${secretName} holds no epilot API token`);
    cached = { token, until: Date.now() + TOKEN_CACHE_MS };
    return token;
  };
}

function tokenFromSecret(secret: string | undefined): string | undefined {
  const text = secret?.trim();
  if (!text) return undefined;
  if (!text.startsWith('{')) return text;
  try {
    const parsed = JSON.parse(text) as { token?: unknown };
    return typeof parsed.token === 'string' && parsed.token ? parsed.token : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The webhook signing secret (`whsec_…`) lives in Secrets Manager, plain or as JSON with a `secret` field; cached
 * per container like the token, so a rotated secret is picked up within minutes. Neither is ever logged.
 */
export function secretsManagerWebhookSecret(secretName: string, client = new SecretsManagerClient({})): () => Promise<string> {
  let cached: { secret: string; until: number } | undefined;
  return async () => {
    if (cached && cached.until > Date.now()) return cached.secret;
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretName }));
    const secret = fieldFromSecret(SecretString, 'secret');
    if (!secret) throw new Error(`Secret ${secretName} holds no webhook signing secret`);
    cached = { secret, until: Date.now() + TOKEN_CACHE_MS };
    return secret;
  };
}

function fieldFromSecret(secret: string | undefined, field: string): string | undefined {
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
