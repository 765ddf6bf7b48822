import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { automations } from '../shared/aws/epilot-clients';
import { logger } from '../shared/aws/lambda-runtime';
import { createCancelAutomationHandler } from './cancel-automation';

export const handler = middy(createCancelAutomationHandler({ logger, automations: automations() })).use(
  injectLambdaContext(logger),
);
