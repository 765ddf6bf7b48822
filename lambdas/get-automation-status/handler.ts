import { lambdaHandler } from '../shared/runtime/lambda-handler';
import { getAutomationStatus } from './state';

export const handler = lambdaHandler(getAutomationStatus);
