import { lambdaHandler } from '../shared/runtime/lambda-handler';
import { startAutomation } from './state';

export const handler = lambdaHandler(startAutomation);
