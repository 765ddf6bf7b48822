import { systemClock } from '../clock';
import { createLogger } from '../logger';
import { type LambdaConfig, lambdaConfigFromEnv } from '../config/settings';

/**
 * What every Lambda shares, read from its environment once per container. Configuration is checked when the
 * module loads (a bad variable fails the cold start, naming the variable). Clients live in `epilot-clients.ts` and
 * `stores.ts`, so a function loads only the SDK clients it uses.
 */
export const config: LambdaConfig = lambdaConfigFromEnv();
export const logger = createLogger();
export const clock = systemClock;
export const settings = config.settings;
