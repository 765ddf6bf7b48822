import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { workflows } from '../shared/runtime/clients';
import { clock, logger, settings } from '../shared/runtime/env';
import { records } from '../shared/runtime/stores';
import { createPatchStepHandler } from './patch-step';

export const handler = middy(
  createPatchStepHandler({ logger, clock, settings, records: records(), workflows: workflows() }),
).use(injectLambdaContext(logger));
