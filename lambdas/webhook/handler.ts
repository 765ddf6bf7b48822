import { lambdaHandler } from '../shared/runtime/lambda-handler';
import { webhookReceiver } from './state';

export const handler = lambdaHandler(webhookReceiver);
