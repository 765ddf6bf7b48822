import { lambdaHandler } from '../shared/runtime/lambda-handler';
import { cancelAutomation } from './state';

export const handler = lambdaHandler(cancelAutomation);
