import { lambdaHandler } from '../shared/runtime/lambda-handler';
import { detectTasks } from './state';

export const handler = lambdaHandler(detectTasks);
