import { defineNeed, NEEDS } from '../function-definition';
import { stepFunctionsStarter } from '../step-functions-starter';
import { resourceVariable } from './resource';

export const taskExecutionsNeed = defineNeed('taskExecutions', ({ env }) => ({
  starter: stepFunctionsStarter(resourceVariable(env, NEEDS.taskExecutions.resource)),
}));
