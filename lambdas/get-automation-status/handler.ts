import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { automations } from '../shared/runtime/clients';
import { clock, logger, settings } from '../shared/runtime/env';
import { createGetAutomationStatusHandler } from './get-automation-status';

export const handler = middy(
  createGetAutomationStatusHandler({ logger, clock, settings, automations: automations() }),
).use(injectLambdaContext(logger));
