import type { Clock } from '../../lambdas/shared/clock';
import type { EpilotEndpoints, Settings } from '../../lambdas/shared/config/settings';
import { EntityApi } from '../../lambdas/shared/epilot/entity-api';
import { EpilotHttp } from '../../lambdas/shared/epilot/http';
import { withStackRetries } from './stack-retry';

/**
 * One authenticated search (one entity) before a command starts its work (`sweep`) or listens (`serve`), so a
 * wrong token or an unreachable API is reported at once in one line, not after retries or on the first delivery;
 * a 5xx, a 429 or a reset of a reachable API is retried as the deployed sweep retries it.
 */
export async function probeEpilotApi(connection: {
  endpoints: EpilotEndpoints;
  token: string;
  settings: Pick<Settings, 'searchQuery' | 'httpTimeoutMs'>;
  clock: Clock;
}): Promise<void> {
  const { endpoints, token, settings, clock } = connection;
  const probe = new EntityApi(
    new EpilotHttp({ endpoints, token: async () => token, timeoutMs: settings.httpTimeoutMs, clock, maxAttempts: 1 }),
  );
  await withStackRetries(
    clock,
    () => probe.searchPage({ q: settings.searchQuery, size: 1 }),
    (error) => !cannotConnect(error),
  );
}

/** No connection was made at all (wrong URL or no network): not worth a retry on the first call. */
function cannotConnect(error: unknown): boolean {
  return error instanceof Error && /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN)\b/.test(error.message);
}
