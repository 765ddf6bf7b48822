import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/**
 * Checks recorded HTTP exchanges against epilot's own OpenAPI definitions (the ones shipped in the official
 * client packages), so that the simulator — and anything recorded against it — cannot drift from the real
 * APIs unnoticed.
 *
 * Rules, beyond plain schema validation:
 * - Error responses (>= 400) must carry the API's error shape: workflow API `{message}`, entity and
 *   automation APIs `{status, error}`. Statuses the definition does not declare for an operation (401, 404,
 *   413, 502, 503 …) are checked against that shape only; an undeclared success status is an error.
 * - `GET /v1/workflows/executions/{id}` may answer 200 with an empty body: the definition's own response
 *   description says "Empty response execution was not found", but its schema cannot express it.
 * - Requests without a body and responses whose definition has no schema pass.
 * - A few mistakes in the definitions themselves are corrected before use (see `applyErrata`).
 */

import type { EpilotApiName } from '../../lambdas/shared/config/settings';

export type { EpilotApiName };

/** The parts of a recorded exchange the validator needs (the simulator's RecordedExchange fits). */
export interface ContractExchange {
  method: string;
  path: string;
  /** 0 = no response was received. */
  status: number;
  api: EpilotApiName;
  requestBody: unknown;
  responseBody: unknown;
}

export interface ValidateExchangeOptions {
  /**
   * Accept a request body the definition rejects when the server rejected it too (4xx). For tests that send
   * bad requests on purpose; leave it off when checking what a client sends.
   */
  allowRejectedInvalidRequests?: boolean;
}

const PACKAGES: Record<EpilotApiName, string> = {
  entity: '@epilot/entity-client',
  workflow: '@epilot/workflow-client',
  automation: '@epilot/automation-client',
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = Record<string, Json>;

export interface ContractOperation {
  api: EpilotApiName;
  method: string;
  template: string;
  pattern: RegExp;
  paramCount: number;
  operationId: string;
  definition: JsonObject;
}

interface LoadedApi {
  document: JsonObject;
  operations: ContractOperation[];
}

const ERROR_SHAPE_SCHEMAS: Record<EpilotApiName, JsonObject> = {
  workflow: { type: 'object', required: ['message'], properties: { message: { type: 'string' } } },
  entity: { type: 'object', required: ['status', 'error'], properties: { status: { type: 'integer' }, error: { type: 'string' } } },
  automation: { type: 'object', required: ['status', 'error'], properties: { status: { type: 'integer' }, error: { type: 'string' } } },
};

let ajv: Ajv | undefined;
const apis = new Map<EpilotApiName, LoadedApi>();
const validators = new Map<string, ValidateFunction>();

export function validateExchange(exchange: ContractExchange, options: ValidateExchangeOptions = {}): string[] {
  const method = exchange.method.toUpperCase();
  const operation = findOperation(exchange.api, method, exchange.path);
  const where = `${method} ${exchange.path} → ${exchange.status}`;
  if (!operation) return [`${where}: no operation in the ${exchange.api} API definition matches`];
  const errors: string[] = [];
  const label = `${where} (${operation.operationId})`;
  const rejected = exchange.status >= 400 && exchange.status < 500;

  const requestSchema = requestBodySchema(operation);
  if (requestSchema && exchange.requestBody !== undefined) {
    const problems = validate(`${operation.api}:${operation.operationId}:request`, requestSchema, exchange.requestBody);
    if (problems.length > 0 && !(rejected && options.allowRejectedInvalidRequests))
      errors.push(...problems.map((problem) => `${label} request body ${problem}`));
  } else if (requestSchema && isRequired(operation) && !rejected && exchange.status !== 0) {
    errors.push(`${label}: the definition requires a request body, none was sent`);
  }

  if (exchange.status === 0) return errors;
  const response = responseDefinition(operation, exchange.status);
  if (exchange.status >= 400) {
    const problems = validate(`${operation.api}:error-shape`, ERROR_SHAPE_SCHEMAS[operation.api], exchange.responseBody);
    errors.push(...problems.map((problem) => `${label} error body ${problem}`));
  }
  if (!response) {
    if (exchange.status < 400) errors.push(`${label}: status ${exchange.status} is not declared for this operation`);
    return errors;
  }
  if (!response.schema) return errors;
  if (exchange.responseBody === undefined) {
    const emptyExecutionAllowed = operation.api === 'workflow' && operation.operationId === 'getExecution' && exchange.status === 200;
    if (!emptyExecutionAllowed) errors.push(`${label}: empty response body, the definition declares one`);
    return errors;
  }
  const problems = validate(`${operation.api}:${operation.operationId}:${response.key}`, response.schema, exchange.responseBody);
  errors.push(...problems.map((problem) => `${label} response body ${problem}`));
  return errors;
}

/** The operation a method + concrete path maps to, e.g. `GET /v1/workflows/executions/abc` → getExecution. */
export function findOperation(api: EpilotApiName, method: string, path: string): ContractOperation | undefined {
  const loaded = loadApi(api);
  return loaded.operations.find((operation) => operation.method === method.toUpperCase() && operation.pattern.test(path));
}

function validate(cacheKey: string, schema: JsonObject, data: unknown): string[] {
  let validator = validators.get(cacheKey);
  if (!validator) {
    validator = getAjv().compile(schema);
    validators.set(cacheKey, validator);
  }
  if (validator(data)) return [];
  return formatErrors(validator.errors ?? []);
}

function formatErrors(errors: ErrorObject[]): string[] {
  // anyOf/oneOf failures report every branch; the first few messages are enough to find the problem.
  return errors.slice(0, 8).map((error) => {
    const params =
      error.keyword === 'additionalProperties' ? ` (${String((error.params as { additionalProperty?: string }).additionalProperty)})` : '';
    return `${error.instancePath || '(root)'} ${error.message ?? error.keyword}${params}`;
  });
}

function getAjv(): Ajv {
  if (!ajv) {
    ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, logger: false });
    addFormats(ajv);
  }
  return ajv;
}

function loadApi(api: EpilotApiName): LoadedApi {
  const cached = apis.get(api);
  if (cached) return cached;
  const packageJson = require.resolve(`${PACKAGES[api]}/package.json`);
  const document = JSON.parse(readFileSync(join(dirname(packageJson), 'dist', 'openapi.json'), 'utf8')) as JsonObject;
  applyErrata(api, document);
  // Only the components are registered: schemas elsewhere are compiled with their refs pointing here.
  getAjv().addSchema({ components: document.components ?? {} }, schemaId(api));
  const operations: ContractOperation[] = [];
  const paths = asObject(document.paths) ?? {};
  for (const [template, pathItem] of Object.entries(paths)) {
    for (const [method, definition] of Object.entries(asObject(pathItem) ?? {})) {
      const operation = asObject(definition);
      if (!operation || typeof operation.operationId !== 'string') continue;
      const paramCount = (template.match(/\{[^}]+\}/g) ?? []).length;
      const pattern = new RegExp(
        `^${template
          .split(/\{[^}]+\}/)
          .map(escapeRegExp)
          .join('[^/]+')}$`,
      );
      operations.push({
        api,
        method: method.toUpperCase(),
        template,
        pattern,
        paramCount,
        operationId: operation.operationId,
        definition: operation,
      });
    }
  }
  // Literal paths win over templated ones (`/executions/search` before `/executions/{id}`).
  operations.sort((a, b) => a.paramCount - b.paramCount);
  const loaded = { document, operations };
  apis.set(api, loaded);
  return loaded;
}

function schemaId(api: EpilotApiName): string {
  return `epilot-${api}.json`;
}

function requestBodySchema(operation: ContractOperation): JsonObject | undefined {
  const requestBody = resolve(operation.api, asObject(operation.definition.requestBody));
  return jsonSchemaOf(operation.api, requestBody);
}

function isRequired(operation: ContractOperation): boolean {
  return resolve(operation.api, asObject(operation.definition.requestBody))?.required === true;
}

function responseDefinition(operation: ContractOperation, status: number): { key: string; schema: JsonObject | undefined } | undefined {
  const responses = asObject(operation.definition.responses) ?? {};
  const key = [String(status), `${String(status).charAt(0)}XX`, 'default'].find((candidate) => candidate in responses);
  if (!key) return undefined;
  const response = resolve(operation.api, asObject(responses[key]));
  return { key, schema: jsonSchemaOf(operation.api, response) };
}

function jsonSchemaOf(api: EpilotApiName, holder: JsonObject | undefined): JsonObject | undefined {
  const content = asObject(holder?.content);
  const schema = asObject(asObject(content?.['application/json'])?.schema);
  return schema ? (rewriteRefs(api, schema) as JsonObject) : undefined;
}

/** Follows a local `$ref` (requestBodies, responses) to the object it names. */
function resolve(api: EpilotApiName, value: JsonObject | undefined): JsonObject | undefined {
  if (!value || typeof value.$ref !== 'string') return value;
  let target: Json | undefined = loadApi(api).document;
  for (const segment of value.$ref.replace(/^#\//, '').split('/')) {
    target = asObject(target)?.[segment.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return asObject(target);
}

/** Makes `#/components/...` refs point into the registered components of the right API. */
function rewriteRefs(api: EpilotApiName, value: Json): Json {
  if (Array.isArray(value)) return value.map((item) => rewriteRefs(api, item));
  if (value === null || typeof value !== 'object') return value;
  const out: JsonObject = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = key === '$ref' && typeof inner === 'string' && inner.startsWith('#/') ? `${schemaId(api)}${inner}` : rewriteRefs(api, inner);
  }
  return out;
}

/**
 * Corrections to the definitions, each a mistake in the definition rather than a difference of opinion:
 * - automation `AutomationExecution.required` lists `status`, which is no property of it (the execution's
 *   status is `execution_status`; the generated client types drop it too).
 * - `oneOf` of nullable scalars (entity `sort_end` / `search_after` items): `null` matches every branch,
 *   which `oneOf` forbids, so a valid `null` would be rejected; `anyOf` is what is meant.
 * - OpenAPI 3.0 `nullable` is rewritten into JSON Schema where ajv cannot take it as is (no `type`, or an
 *   `enum` without null).
 */
function applyErrata(api: EpilotApiName, document: JsonObject): void {
  if (api === 'automation') {
    const execution = asObject(asObject(asObject(document.components)?.schemas)?.AutomationExecution);
    if (execution && Array.isArray(execution.required)) execution.required = execution.required.filter((name) => name !== 'status');
  }
  const visit = (value: Json): void => {
    if (Array.isArray(value)) {
      value.forEach(visit);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    if (Array.isArray(value.oneOf) && value.oneOf.every((branch) => asObject(branch)?.nullable === true)) {
      value.anyOf = value.oneOf;
      delete value.oneOf;
    }
    if (value.nullable === true && Array.isArray(value.enum) && !value.enum.includes(null)) value.enum = [...value.enum, null];
    if (value.nullable === true && value.type === undefined) {
      const rest: JsonObject = { ...value };
      delete rest.nullable;
      // The node is rewritten in place (its parent holds it): every key goes, then anyOf comes in.
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete
      for (const key of Object.keys(value)) delete value[key];
      value.anyOf = [rest, { type: 'null' }];
    }
    Object.values(value).forEach(visit);
  };
  visit(document);
}

function asObject(value: Json | undefined): JsonObject | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
