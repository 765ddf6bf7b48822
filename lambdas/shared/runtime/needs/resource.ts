import * as z from 'zod';

const RESOURCE_SCHEMAS: Record<string, z.ZodString> = {
  TASK_TABLE_NAME: z.string().min(1),
  TASK_STATE_MACHINE_ARN: z.string().startsWith('arn:'),
};

/** A resource variable the stack binds with the need (table name, state machine ARN), checked at cold start. */
export function resourceVariable(env: Record<string, string | undefined>, variable: string): string {
  const value = env[variable];
  if (value === undefined || value === '') throw new Error(`Missing configuration: ${variable} must be set`);
  const parsed = (RESOURCE_SCHEMAS[variable] ?? z.string().min(1)).safeParse(value);
  if (!parsed.success) {
    throw new Error(`Invalid configuration: environment variable ${variable}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
