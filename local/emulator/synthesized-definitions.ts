import * as fs from 'node:fs';
import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import * as z from 'zod';
import { type AslDefinition, isLambdaFunctionArn, parseAslDefinition } from './asl';
import { LOCAL_ACCOUNT_ID, LOCAL_PARTITION, LOCAL_REGION, LOCAL_URL_SUFFIX } from './local-account';

const resourceSchema = z.looseObject({
  Type: z.string(),
  Properties: z.record(z.string(), z.unknown()).optional(),
});
const templateSchema = z.looseObject({ Resources: z.record(z.string(), resourceSchema) });

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

/**
 * The resource types whose names and ARNs the stack's state machines and tables refer to, with the property that
 * holds a literal physical name (else the logical id is the name).
 */
const NAME_PROPERTIES: Record<string, string> = {
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
};

function resourceOf(
  template: CloudFormationTemplate,
  logicalId: string,
): CloudFormationTemplate['Resources'][string] & { nameProperty: string } {
  const resource = template.Resources[logicalId];
  if (!resource) throw new Error(`Template has no resource "${logicalId}"`);
  const nameProperty = NAME_PROPERTIES[resource.Type];
  if (nameProperty === undefined) {
    throw new Error(
      `${logicalId} (${resource.Type}) has no local name or ARN; local runs only know ${Object.keys(NAME_PROPERTIES).join(', ')}`,
    );
  }
  return { ...resource, nameProperty };
}

function physicalName(template: CloudFormationTemplate, logicalId: string): string {
  const resource = resourceOf(template, logicalId);
  const literal = resource.Properties?.[resource.nameProperty];
  return typeof literal === 'string' ? literal : logicalId;
}

/** The resource's ARN in the local account and region. */
function localArn(template: CloudFormationTemplate, logicalId: string): string {
  const resource = resourceOf(template, logicalId);
  const name = physicalName(template, logicalId);
  const regional = (service: string, rest: string) => `arn:${LOCAL_PARTITION}:${service}:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${rest}`;
  switch (resource.Type) {
    case 'AWS::Lambda::Function':
      return regional('lambda', `function:${name}`);
    case 'AWS::DynamoDB::Table':
      return regional('dynamodb', `table/${name}`);
    default:
      return regional('states', `stateMachine:${name}`);
  }
}

const PSEUDO_PARAMETERS: Record<string, string> = {
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT_ID,
  'AWS::Partition': LOCAL_PARTITION,
  'AWS::URLSuffix': LOCAL_URL_SUFFIX,
};

function refValue(template: CloudFormationTemplate, name: string): string {
  const pseudo = PSEUDO_PARAMETERS[name];
  if (pseudo !== undefined) return pseudo;
  const resource = resourceOf(template, name);
  // A state machine's Ref is its ARN; a function's or table's is its name.
  return resource.Type === 'AWS::StepFunctions::StateMachine' ? localArn(template, name) : physicalName(template, name);
}

const joinArgs = z.tuple([z.string(), z.array(z.unknown())]);
const getAttArgs = z.union([z.tuple([z.string(), z.string()]), z.string()]);

function asString(value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`${where} resolved to ${JSON.stringify(value)}, not a string`);
}

/**
 * A template value with `Ref`, `Fn::GetAtt` (Arn) and `Fn::Join` replaced by local values: what CDK emits for the
 * stack's definitions and tables. Any other intrinsic throws: a silently unresolved token inside a state machine
 * definition would only surface as a confusing runtime failure.
 */
export function resolveCfnValue(template: CloudFormationTemplate, value: unknown): unknown {
  const resolve = (v: unknown): unknown => resolveCfnValue(template, v);
  if (Array.isArray(value)) return value.map(resolve);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const [first] = entries;
  if (entries.length === 1 && first && (first[0] === 'Ref' || first[0].startsWith('Fn::'))) {
    const [fn, args] = first;
    switch (fn) {
      case 'Ref':
        return refValue(template, asString(args, 'Ref'));
      case 'Fn::GetAtt': {
        const parsed = getAttArgs.parse(args);
        const [logicalId, attribute] = typeof parsed === 'string' ? splitOnce(parsed, '.') : parsed;
        if (attribute !== 'Arn') throw new Error(`Fn::GetAtt ${logicalId}.${attribute} has no local value (only Arn has)`);
        return localArn(template, logicalId);
      }
      case 'Fn::Join': {
        const [separator, parts] = joinArgs.parse(args);
        return parts.map((part, i) => asString(resolve(part), `Fn::Join part ${i}`)).join(separator);
      }
      default:
        throw new Error(`${fn} cannot be resolved locally`);
    }
  }
  return Object.fromEntries(entries.map(([key, inner]) => [key, resolve(inner)]));
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  if (at < 0) throw new Error(`Expected "${separator}" in "${text}"`);
  return [text.slice(0, at), text.slice(at + separator.length)];
}

// ---------------------------------------------------------------------------------------------------------------
// State machine definitions

export interface LocalStateMachineDefinition {
  logicalId: string;
  /** Literal StateMachineName, else the logical id; what local execution ARNs are built from. */
  name: string;
  arn: string;
  /** The definition with every CloudFormation token resolved (local ARNs). */
  definition: AslDefinition;
  /** Task state name → logical id of the Lambda function of this template it invokes. */
  taskFunctions: Record<string, string>;
}

const stateMachinePropertiesSchema = z.looseObject({ DefinitionString: z.unknown() });

/** Every `AWS::StepFunctions::StateMachine` of the template, in template order. */
export function stateMachineDefinitions(template: CloudFormationTemplate): LocalStateMachineDefinition[] {
  const functionsByArn = new Map(
    Object.entries(template.Resources)
      .filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')
      .map(([logicalId]) => [localArn(template, logicalId), logicalId]),
  );
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::StepFunctions::StateMachine')
    .map(([logicalId, resource]) => {
      // CDK's DefinitionBody.fromChainable writes DefinitionString; Definition, DefinitionS3Location and
      // DefinitionSubstitutions are other ways the stack does not use.
      for (const property of ['Definition', 'DefinitionS3Location', 'DefinitionSubstitutions']) {
        if (resource.Properties?.[property] !== undefined)
          throw new Error(`State machine ${logicalId}: ${property} is not supported locally`);
      }
      const properties = stateMachinePropertiesSchema.parse(resource.Properties ?? {});
      const text = asString(resolveCfnValue(template, properties.DefinitionString), `${logicalId}.DefinitionString`);
      const definition = parseAslDefinition(JSON.parse(text), `definition of ${logicalId}`);
      const taskFunctions: Record<string, string> = {};
      for (const [name, state] of Object.entries(definition.States)) {
        const functionLogicalId = isLambdaFunctionArn(state['Resource']) ? functionsByArn.get(state['Resource']) : undefined;
        if (functionLogicalId) taskFunctions[name] = functionLogicalId;
      }
      return { logicalId, name: physicalName(template, logicalId), arn: localArn(template, logicalId), definition, taskFunctions };
    });
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
