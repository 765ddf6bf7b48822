import * as fs from 'node:fs';
import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { z } from 'zod';
import { type AslDefinition, allStates, invokedFunction, parseAslDefinition, taskIntegration, type TaskIntegration } from './asl';
import { LOCAL_ACCOUNT_ID, LOCAL_PARTITION, LOCAL_REGION, LOCAL_STACK_NAME, LOCAL_URL_SUFFIX } from './local-account';

export { LOCAL_ACCOUNT_ID, LOCAL_PARTITION, LOCAL_REGION, LOCAL_STACK_NAME, LOCAL_URL_SUFFIX } from './local-account';

const resourceSchema = z.looseObject({
  Type: z.string(),
  Properties: z.record(z.string(), z.unknown()).optional(),
});
const templateSchema = z.looseObject({
  Resources: z.record(z.string(), resourceSchema),
  Parameters: z.record(z.string(), z.looseObject({ Default: z.unknown().optional() })).optional(),
});

export type CloudFormationResource = z.infer<typeof resourceSchema>;
export type CloudFormationTemplate = z.infer<typeof templateSchema>;

export function parseTemplate(value: unknown): CloudFormationTemplate {
  const parsed = templateSchema.safeParse(value);
  if (!parsed.success) throw new Error(`Not a CloudFormation template: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

// Apps whose outdir is a temporary directory. synthesizeTemplate empties it after reading the template: aws-cdk-lib
// removes such directories only on process exit, which jest never fires. The directory itself stays, so a later
// synth of the same app (Template.fromStack, app.synth()) still has somewhere to write.
const throwAwayOutdirs = new WeakSet<cdk.App>();

/**
 * An App for synthesizing locally. Must be created before the stack: asset bundling (esbuild for NodejsFunction)
 * runs while constructs are built, so `aws:cdk:bundling-stacks: []` has to be in the context by then. It is set as
 * post-CLI context so a `cdk.json` or `--context` value cannot switch bundling back on. The other settings drop
 * work a template read does not need: the built-in CloudFormation validation (what `CDK_VALIDATION=false` turns
 * off; it alone costs ~1.5 s on first use and prints runtime deprecation warnings), construct stack traces,
 * tree/path/logical-id metadata and version reporting.
 */
export function createLocalApp(props: cdk.AppProps = {}): cdk.App {
  const app = new cdk.App({
    stackTraces: false,
    analyticsReporting: false,
    treeMetadata: false,
    builtinCloudFormationValidation: false,
    performanceReporting: false,
    autoSynth: false,
    ...props,
    context: {
      'aws:cdk:enable-path-metadata': false,
      'aws:cdk:disable-logicalId-metadata': true,
      'aws:cdk:disable-creation-stack-traces': true,
      ...props.context,
    },
    postCliContext: { ...props.postCliContext, 'aws:cdk:bundling-stacks': [] },
  });
  if (props.outdir === undefined) throwAwayOutdirs.add(app);
  return app;
}

/**
 * The stack's CloudFormation template. Throws if the stack's app would bundle assets (create the app with
 * `createLocalApp()`): by the time a stack exists its bundling has already run, so this can only refuse, and a
 * slow, esbuild-running synth is exactly what local runs must not pay for silently.
 */
export function synthesizeTemplate(stack: cdk.Stack): CloudFormationTemplate {
  if (stack.bundlingRequired) {
    throw new Error(
      `Stack ${stack.node.path} was built with asset bundling enabled. Create its app with createLocalApp() ` +
        `(or set the context 'aws:cdk:bundling-stacks' to [] before constructing the stack).`,
    );
  }
  const stage = cdk.Stage.of(stack);
  if (!stage) throw new Error(`Stack ${stack.node.path} is not part of an App`);
  // force: a second call after the construct tree changed must not return the first, stale assembly.
  const assembly = stage.synth({ force: true });
  try {
    return parseTemplate(assembly.getStackArtifact(stack.artifactId).template);
  } finally {
    const root = stack.node.root;
    if (cdk.App.isApp(root) && throwAwayOutdirs.has(root)) {
      for (const entry of fs.readdirSync(assembly.directory)) {
        fs.rmSync(path.join(assembly.directory, entry), { recursive: true, force: true });
      }
    }
  }
}

/** The logical id CloudFormation knows a construct (or its default child, e.g. a StateMachine's CfnStateMachine) by. */
export function logicalIdOf(construct: IConstruct): string {
  const element = cdk.CfnElement.isCfnElement(construct) ? construct : construct.node.defaultChild;
  if (!element || !cdk.CfnElement.isCfnElement(element)) {
    throw new Error(`Construct ${construct.node.path} has no CloudFormation resource as its default child`);
  }
  return cdk.Stack.of(element).getLogicalId(element);
}

// ---------------------------------------------------------------------------------------------------------------
// Resolving intrinsic functions against the local account

/** Properties holding a resource's physical name, by type; a literal value there replaces the logical id. */
const NAME_PROPERTIES: Record<string, string> = {
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::DynamoDB::GlobalTable': 'TableName',
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::IAM::ManagedPolicy': 'ManagedPolicyName',
  'AWS::SecretsManager::Secret': 'Name',
  'AWS::Events::EventBus': 'Name',
  'AWS::Events::Rule': 'Name',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::S3::Bucket': 'BucketName',
  'AWS::SSM::Parameter': 'Name',
};

export function physicalName(template: CloudFormationTemplate, logicalId: string): string {
  const resource = template.Resources[logicalId];
  if (!resource) throw new Error(`Template has no resource "${logicalId}"`);
  const property = NAME_PROPERTIES[resource.Type];
  const literal = property === undefined ? undefined : resource.Properties?.[property];
  return typeof literal === 'string' ? literal : logicalId;
}

/** An ARN of the right service and shape for a template resource, in the local account and region. */
export function localArn(template: CloudFormationTemplate, logicalId: string): string {
  const resource = template.Resources[logicalId];
  if (!resource) throw new Error(`Template has no resource "${logicalId}"`);
  const name = physicalName(template, logicalId);
  const regional = (service: string, rest: string) =>
    `arn:${LOCAL_PARTITION}:${service}:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${rest}`;
  switch (resource.Type) {
    case 'AWS::Lambda::Function':
      return regional('lambda', `function:${name}`);
    case 'AWS::DynamoDB::Table':
    case 'AWS::DynamoDB::GlobalTable':
      return regional('dynamodb', `table/${name}`);
    case 'AWS::StepFunctions::StateMachine':
      return regional('states', `stateMachine:${name}`);
    case 'AWS::SQS::Queue':
    case 'AWS::SNS::Topic':
      return regional(resource.Type === 'AWS::SQS::Queue' ? 'sqs' : 'sns', name);
    case 'AWS::IAM::Role':
      return `arn:${LOCAL_PARTITION}:iam::${LOCAL_ACCOUNT_ID}:role/${name}`;
    case 'AWS::IAM::ManagedPolicy':
      return `arn:${LOCAL_PARTITION}:iam::${LOCAL_ACCOUNT_ID}:policy/${name}`;
    case 'AWS::SecretsManager::Secret':
      return regional('secretsmanager', `secret:${name}`);
    case 'AWS::Events::EventBus':
      return regional('events', `event-bus/${name}`);
    case 'AWS::Events::Rule':
      return regional('events', `rule/${name}`);
    case 'AWS::Logs::LogGroup':
      return regional('logs', `log-group:${name}:*`);
    case 'AWS::S3::Bucket':
      return `arn:${LOCAL_PARTITION}:s3:::${name.toLowerCase()}`;
    case 'AWS::SSM::Parameter':
      return regional('ssm', `parameter/${name.replace(/^\//, '')}`);
    default: {
      const [, service = 'unknown', kind = 'resource'] = resource.Type.split('::');
      return regional(service.toLowerCase(), `${kind.toLowerCase()}/${name}`);
    }
  }
}

function refValue(template: CloudFormationTemplate, name: string): unknown {
  switch (name) {
    case 'AWS::Region':
      return LOCAL_REGION;
    case 'AWS::AccountId':
      return LOCAL_ACCOUNT_ID;
    case 'AWS::Partition':
      return LOCAL_PARTITION;
    case 'AWS::URLSuffix':
      return LOCAL_URL_SUFFIX;
    case 'AWS::StackName':
      return LOCAL_STACK_NAME;
    case 'AWS::StackId':
      return `arn:${LOCAL_PARTITION}:cloudformation:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stack/${LOCAL_STACK_NAME}/00000000-0000-0000-0000-000000000000`;
    case 'AWS::NoValue':
      return undefined;
  }
  const parameter = template.Parameters?.[name];
  if (parameter) {
    if (parameter.Default === undefined) throw new Error(`Ref to template parameter "${name}", which has no Default`);
    return parameter.Default;
  }
  const resource = template.Resources[name];
  if (!resource) throw new Error(`Ref to "${name}", which is neither a pseudo parameter, a parameter nor a resource`);
  // What Ref returns differs by type; these are the ones whose Ref is not their name.
  switch (resource.Type) {
    case 'AWS::StepFunctions::StateMachine':
    case 'AWS::SNS::Topic':
    case 'AWS::SecretsManager::Secret':
    case 'AWS::IAM::ManagedPolicy':
      return localArn(template, name);
    case 'AWS::SQS::Queue':
      return `https://sqs.${LOCAL_REGION}.${LOCAL_URL_SUFFIX}/${LOCAL_ACCOUNT_ID}/${physicalName(template, name)}`;
    default:
      return physicalName(template, name);
  }
}

function getAttValue(template: CloudFormationTemplate, logicalId: string, attribute: string): unknown {
  const resource = template.Resources[logicalId];
  if (!resource) throw new Error(`Fn::GetAtt of unknown resource "${logicalId}"`);
  switch (attribute) {
    case 'Arn':
      return localArn(template, logicalId);
    case 'Name':
    case 'TopicName':
    case 'QueueName':
      return physicalName(template, logicalId);
    case 'StreamArn':
      return `${localArn(template, logicalId)}/stream/1970-01-01T00:00:00.000`;
    default:
      throw new Error(`Fn::GetAtt ${logicalId}.${attribute} has no local value (only Arn, Name and StreamArn do)`);
  }
}

const joinArgs = z.tuple([z.string(), z.array(z.unknown())]);
const getAttArgs = z.union([z.tuple([z.string(), z.string()]), z.string()]);
const subArgs = z.union([z.string(), z.tuple([z.string(), z.record(z.string(), z.unknown())])]);
const selectArgs = z.tuple([z.union([z.number(), z.string()]), z.unknown()]);
const splitArgs = z.tuple([z.string(), z.unknown()]);

function asString(value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`${where} resolved to ${JSON.stringify(value)}, not a string`);
}

/**
 * A template value with `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select` and `Fn::Split` replaced by local
 * values. Anything else (Fn::ImportValue, Fn::If, ...) throws: a silently unresolved token inside a state machine
 * definition would only surface as a confusing runtime failure.
 */
export function resolveCfnValue(template: CloudFormationTemplate, value: unknown): unknown {
  const resolve = (v: unknown): unknown => resolveCfnValue(template, v);
  if (Array.isArray(value)) return value.map(resolve).filter((v) => v !== undefined);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const [first] = entries;
  if (entries.length === 1 && first && (first[0] === 'Ref' || first[0].startsWith('Fn::'))) {
    const [fn, args] = first;
    switch (fn) {
      case 'Ref':
        return refValue(template, asString(args, 'Ref'));
      case 'Fn::GetAtt': {
        const parsed = getAttArgs.parse(args);
        const [logicalId, attribute] = typeof parsed === 'string' ? splitOnce(parsed, '.') : parsed;
        return getAttValue(template, logicalId, attribute);
      }
      case 'Fn::Join': {
        const [separator, parts] = joinArgs.parse(args);
        const resolvedParts = parts.map(resolve);
        return resolvedParts.map((part, i) => asString(part, `Fn::Join part ${i}`)).join(separator);
      }
      case 'Fn::Sub': {
        const parsed = subArgs.parse(args);
        const [text, variables] = typeof parsed === 'string' ? [parsed, {}] : parsed;
        const substituted = text.replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => {
          if (name in variables) return asString(resolve(variables[name]), `Fn::Sub variable ${name}`);
          if (name.includes('.') && !name.startsWith('AWS::')) {
            const [logicalId, attribute] = splitOnce(name, '.');
            return asString(getAttValue(template, logicalId, attribute), `Fn::Sub ${name}`);
          }
          return asString(refValue(template, name), `Fn::Sub ${name}`);
        });
        return substituted.replace(/\$\{!/g, '${');
      }
      case 'Fn::Select': {
        const [index, list] = selectArgs.parse(args);
        const items = z.array(z.unknown()).parse(resolve(list));
        const item = items[Number(index)];
        if (item === undefined) throw new Error(`Fn::Select index ${index} is out of range`);
        return item;
      }
      case 'Fn::Split': {
        const [separator, source] = splitArgs.parse(args);
        return asString(resolve(source), 'Fn::Split source').split(separator);
      }
      default:
        throw new Error(`${fn} cannot be resolved locally`);
    }
  }
  const resolved: Record<string, unknown> = {};
  for (const [key, inner] of entries) {
    const v = resolve(inner);
    if (v !== undefined) resolved[key] = v;
  }
  return resolved;
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  if (at < 0) throw new Error(`Expected "${separator}" in "${text}"`);
  return [text.slice(0, at), text.slice(at + separator.length)];
}

// ---------------------------------------------------------------------------------------------------------------
// State machine definitions

export interface LocalTaskTarget {
  integration: TaskIntegration;
  /** Logical id of the Lambda function the state invokes; absent when it is not a Lambda of this template. */
  functionLogicalId?: string;
}

export interface LocalStateMachineDefinition {
  logicalId: string;
  /** Literal StateMachineName, else the logical id; what local execution ARNs are built from. */
  name: string;
  arn: string;
  /** The definition with every CloudFormation token resolved (local ARNs) and DefinitionSubstitutions applied. */
  definition: AslDefinition;
  /** Task state name → logical id of the Lambda function it invokes, for every Task state, nested ones included. */
  taskFunctions: Record<string, string>;
  /** Every Task state (nested ones included) and how it reaches its target. */
  tasks: Record<string, LocalTaskTarget>;
}

const stateMachinePropertiesSchema = z.looseObject({
  DefinitionString: z.unknown().optional(),
  Definition: z.unknown().optional(),
  DefinitionS3Location: z.unknown().optional(),
  DefinitionSubstitutions: z.record(z.string(), z.unknown()).optional(),
  StateMachineName: z.unknown().optional(),
});

/** Every `AWS::StepFunctions::StateMachine` of the template, in template order. */
export function stateMachineDefinitions(template: CloudFormationTemplate): LocalStateMachineDefinition[] {
  const functionsByReference = lambdaFunctionReferences(template);
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::StepFunctions::StateMachine')
    .map(([logicalId, resource]) => {
      const properties = stateMachinePropertiesSchema.parse(resource.Properties ?? {});
      if (properties.DefinitionS3Location !== undefined) {
        throw new Error(`State machine ${logicalId} loads its definition from S3, which local runs cannot read`);
      }
      let text: string;
      if (properties.DefinitionString !== undefined) {
        text = asString(resolveCfnValue(template, properties.DefinitionString), `${logicalId}.DefinitionString`);
      } else if (properties.Definition !== undefined) {
        text = JSON.stringify(resolveCfnValue(template, properties.Definition));
      } else {
        throw new Error(`State machine ${logicalId} has no DefinitionString or Definition`);
      }
      for (const [key, raw] of Object.entries(properties.DefinitionSubstitutions ?? {})) {
        const value = asString(resolveCfnValue(template, raw), `${logicalId}.DefinitionSubstitutions.${key}`);
        text = text.split(`\${${key}}`).join(value);
      }
      const definition = parseAslDefinition(JSON.parse(text), `definition of ${logicalId}`);

      const tasks: Record<string, LocalTaskTarget> = {};
      const taskFunctions: Record<string, string> = {};
      for (const { name, state } of allStates(definition)) {
        if (state.Type !== 'Task') continue;
        const target = invokedFunction(state);
        const functionLogicalId = target === undefined ? undefined : functionsByReference.get(stripQualifier(target));
        tasks[name] = { integration: taskIntegration(state), ...(functionLogicalId ? { functionLogicalId } : {}) };
        if (functionLogicalId) taskFunctions[name] = functionLogicalId;
      }
      return { logicalId, name: physicalName(template, logicalId), arn: localArn(template, logicalId), definition, taskFunctions, tasks };
    });
}

/** Lambda functions by every way a definition may name them: ARN and function name (= logical id if not literal). */
function lambdaFunctionReferences(template: CloudFormationTemplate): Map<string, string> {
  const references = new Map<string, string>();
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    references.set(localArn(template, logicalId), logicalId);
    references.set(physicalName(template, logicalId), logicalId);
  }
  return references;
}

/** `arn:...:function:name:qualifier` and `name:qualifier` both mean the function `name`. */
function stripQualifier(functionRef: string): string {
  const arn = /^(arn:[^:]+:lambda:[^:]+:\d+:function:[^:]+)(:.+)?$/.exec(functionRef);
  if (arn?.[1]) return arn[1];
  return functionRef.split(':')[0] ?? functionRef;
}

/**
 * The definition whose logical id (or name) is `idOrConstruct`, or whose logical id starts with it once
 * non-alphanumerics are dropped (so a construct path like `Runner/TaskStateMachine` finds
 * `RunnerTaskStateMachine1A2B3C4D`). Accepts the construct itself too. Throws when nothing or more than one matches.
 */
export function findStateMachineDefinition(
  definitions: LocalStateMachineDefinition[],
  idOrConstruct: string | IConstruct,
): LocalStateMachineDefinition {
  const wanted = typeof idOrConstruct === 'string' ? idOrConstruct : logicalIdOf(idOrConstruct);
  return findByLogicalId(definitions, wanted, 'state machine');
}

/** Exact logical id or name first, then a unique logical-id prefix (see findStateMachineDefinition). */
export function findByLogicalId<T extends { logicalId: string; name: string }>(items: T[], wanted: string, what: string): T {
  const exact = items.find((item) => item.logicalId === wanted) ?? items.find((item) => item.name === wanted);
  if (exact) return exact;
  const prefix = wanted.replace(/[^A-Za-z0-9]/g, '');
  const matches = items.filter((item) => prefix.length > 0 && item.logicalId.startsWith(prefix));
  // CDK appends an 8-character hash to the construct path; prefer what is exactly "path + hash".
  const hashed = matches.filter((item) => /^[0-9A-F]{8}$/.test(item.logicalId.slice(prefix.length)));
  const candidates = hashed.length > 0 ? hashed : matches;
  const [only, ...others] = candidates;
  if (only && others.length === 0) return only;
  throw new Error(
    candidates.length === 0
      ? `No ${what} matches "${wanted}" (known: ${items.map((item) => item.logicalId).join(', ') || 'none'})`
      : `"${wanted}" matches several ${what}s: ${candidates.map((item) => item.logicalId).join(', ')}`,
  );
}
