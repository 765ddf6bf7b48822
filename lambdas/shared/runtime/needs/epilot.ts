import { systemClock } from '../../clock';
import { endpointsOf } from '../../config/settings';
import { AutomationApi } from '../../epilot/automation-api';
import { EntityApi } from '../../epilot/entity-api';
import { EpilotHttp } from '../../epilot/http';
import { createLogger } from '../../logger';
import { WorkflowsV1Engine } from '../../epilot/workflows-v1';
import { defineNeed } from '../function-definition';
import { secretsManagerToken } from '../secrets';

export const epilotNeed = defineNeed('epilot', ({ settings }) => {
  const authLog = createLogger();
  const http = new EpilotHttp({
    endpoints: endpointsOf(settings),
    token: secretsManagerToken(settings.epilotTokenSecretName),
    timeoutMs: settings.httpTimeoutMs,
    clock: systemClock,
    onAuthRefused: ({ call, status, message }) =>
      authLog.error('epilot refused the API token; the secret is read again for the next call', { call, status, error: message }),
  });
  return { workflows: new WorkflowsV1Engine(http), automations: new AutomationApi(http), entities: new EntityApi(http) };
});
