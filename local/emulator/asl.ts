import * as z from 'zod';

/**
 * The slice of the Amazon States Language (JSONPath flavour) the local tooling reads. States stay loose objects:
 * the definition is handed to aws-local-stepfunctions as is, this code only needs to find and check states.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const stateSchema = z.looseObject({ Type: z.string() });
export type AslState = z.infer<typeof stateSchema>;

export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
  [field: string]: unknown;
}

const definitionSchema: z.ZodType<AslDefinition> = z.looseObject({
  StartAt: z.string(),
  States: z.record(z.string(), stateSchema),
});

export function parseAslDefinition(value: unknown, what = 'state machine definition'): AslDefinition {
  const parsed = definitionSchema.safeParse(value);
  if (!parsed.success) throw new Error(`${what} is not an ASL definition: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

// CDK's LambdaInvoke with payloadResponseOnly puts the function ARN itself into Resource.
const LAMBDA_FUNCTION_ARN = /^arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9$_-]+)?$/;

export function isLambdaFunctionArn(resource: unknown): resource is string {
  return typeof resource === 'string' && LAMBDA_FUNCTION_ARN.test(resource);
}
