import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { automations } from '../shared/runtime/clients';
import { clock, logger, settings } from '../shared/runtime/env';
import { records } from '../shared/runtime/stores';
import { createCancelAutomationHandler } from './cancel-automation';

export const handler = middy(
  createCancelAutomationHandler({ logger, clock, settings, records: records(), automations: automations() }),
).use(injectLambdaContext(logger));
