import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { automations } from '../shared/aws/epilot-clients';
import { clock, logger, settings } from '../shared/aws/lambda-runtime';
import { records } from '../shared/aws/stores';
import { createCancelAutomationHandler } from './cancel-automation';

export const handler = middy(
  createCancelAutomationHandler({ logger, clock, settings, records: records(), automations: automations() }),
).use(injectLambdaContext(logger));
