import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { systemClock } from '../clock';
import { settingsFromEnvironment } from '../config/settings';
import { createLogger } from '../logger';
import { type AllDeps, depsFor, type FunctionDefinition, type FunctionHandler, type Need, needNames } from './function-definition';

/**
 * A runner function wrapped the one way every function is, on AWS and on a laptop: Powertools adds the Lambda
 * context to every log line, then the function's own code runs.
 */
export function bindHandler<N extends Need, E, R>(definition: FunctionDefinition<N, E, R>, all: AllDeps): FunctionHandler<E, R> {
  const deps = depsFor(needNames(definition), all);
  return middy(definition.create(deps)).use(injectLambdaContext(all.logger));
}

/**
 * The `handler` export of a Lambda: its configuration is read and checked when the module loads (a bad variable
 * fails the cold start, naming the variable), and only the clients its needs name are built.
 */
export function lambdaHandler<N extends Need, E, R>(
  definition: FunctionDefinition<N, E, R>,
  env: Record<string, string | undefined> = process.env,
): FunctionHandler<E, R> {
  const settings = settingsFromEnvironment(env);
  const built: Partial<AllDeps> = { logger: createLogger(), clock: systemClock };
  for (const need of definition.needs) Object.assign(built, need.provide({ settings, env }));
  // depsFor() hands the function only what its needs built; nothing else is read from this object.
  return bindHandler(definition, built as AllDeps);
}
