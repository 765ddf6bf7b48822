import * as cdk from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { CloudAssembly } from 'aws-cdk-lib/cx-api';
import {
  type CloudFormationTemplate,
  createLocalApp,
  findStateMachineDefinition,
  logicalIdOf,
  parseTemplate,
  resolveCfnValue,
  stateMachineDefinitions,
  synthesizeTemplate,
} from './synthesized-definitions';
import { SampleStack } from '../../test/support/sample-stack';

// aws-cdk-lib removes its temporary assembly directories on process exit, which jest never fires.
afterAll(() => CloudAssembly.cleanupTemporaryDirectories());

describe('synthesizeTemplate', () => {
  it('synthesizes without bundling', () => {
    // aws-cdk-lib announces every bundling run on stderr before starting esbuild.
    const stderr = jest.spyOn(process.stderr, 'write');
    const started = Date.now();
    const stack = new SampleStack(createLocalApp(), 'Sample');
    const template = synthesizeTemplate(stack);
    const elapsed = Date.now() - started;
    const bundlingMessages = stderr.mock.calls.filter(([chunk]) => String(chunk).includes('Bundling asset'));
    stderr.mockRestore();

    expect(stack.bundlingRequired).toBe(false);
    expect(bundlingMessages).toEqual([]);
    expect(template.Resources[logicalIdOf(stack.worker)]?.Type).toBe('AWS::Lambda::Function');
    expect(elapsed).toBeLessThan(5000);
  });

  it('can synthesize the same stack again after a change', () => {
    const stack = new SampleStack(createLocalApp(), 'Sample');
    const before = Object.keys(synthesizeTemplate(stack).Resources).length;
    new sfn.StateMachine(stack, 'Another', { definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Nothing')) });
    expect(Object.keys(synthesizeTemplate(stack).Resources).length).toBeGreaterThan(before);
    // The app stays usable for other synths.
    expect(Object.keys(Template.fromStack(stack).toJSON()['Resources'] as object)).toHaveLength(before + 2);
  });

  it('refuses a stack whose app bundles assets', () => {
    const stack = new cdk.Stack(new cdk.App(), 'Plain');
    expect(() => synthesizeTemplate(stack)).toThrow(/createLocalApp/);
  });
});

describe('stateMachineDefinitions', () => {
  const stack = new SampleStack(createLocalApp(), 'Sample');
  const template = synthesizeTemplate(stack);
  const definitions = stateMachineDefinitions(template);
  const workerId = logicalIdOf(stack.worker);
  const arn = `arn:aws:lambda:eu-central-1:000000000000:function:${workerId}`;

  it('resolves every token to local ARNs', () => {
    expect(definitions).toHaveLength(1);
    const [sample] = definitions;
    expect(sample?.logicalId).toBe(logicalIdOf(stack.stateMachine));
    expect(sample?.arn).toBe(`arn:aws:states:eu-central-1:000000000000:stateMachine:${sample?.logicalId}`);
    const states = sample?.definition.States ?? {};
    expect(states['Start']?.['Resource']).toBe(arn);
    expect(JSON.stringify(sample?.definition)).not.toMatch(/Fn::|"Ref"|\$\{Token/);
  });

  it('maps every Task state to the logical id of its Lambda', () => {
    const [sample] = definitions;
    expect(sample?.taskFunctions).toEqual({ Start: workerId, Flaky: workerId, Poll: workerId });
  });

  it('finds a definition by construct, construct id or logical id', () => {
    const [sample] = definitions;
    expect(findStateMachineDefinition(definitions, stack.stateMachine)).toBe(sample);
    expect(findStateMachineDefinition(definitions, 'Sample')).toBe(sample);
    expect(findStateMachineDefinition(definitions, sample?.logicalId ?? '')).toBe(sample);
    expect(() => findStateMachineDefinition(definitions, 'Missing')).toThrow(/No state machine matches "Missing"/);
  });

  it('resolves Ref, Fn::GetAtt Arn and Fn::Join, and names resources by their literal name', () => {
    const handmade: CloudFormationTemplate = parseTemplate({
      Resources: {
        Fn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'named-fn' } },
        Machine: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: {
            StateMachineName: 'machine',
            DefinitionString: {
              'Fn::Join': [
                '',
                [
                  '{"StartAt":"Call","States":{"Call":{"Type":"Task","Resource":"',
                  { 'Fn::GetAtt': ['Fn', 'Arn'] },
                  '","Parameters":{"region":"',
                  { Ref: 'AWS::Region' },
                  '","fn":"',
                  { Ref: 'Fn' },
                  '"},"End":true}}}',
                ],
              ],
            },
          },
        },
      },
    });
    const [machine] = stateMachineDefinitions(handmade);
    expect(machine?.name).toBe('machine');
    expect(machine?.arn).toBe('arn:aws:states:eu-central-1:000000000000:stateMachine:machine');
    expect(machine?.definition.States['Call']).toMatchObject({
      Resource: 'arn:aws:lambda:eu-central-1:000000000000:function:named-fn',
      Parameters: { region: 'eu-central-1', fn: 'named-fn' },
    });
    expect(machine?.taskFunctions).toEqual({ Call: 'Fn' });
  });

  it('refuses what the stack does not use, naming it: other intrinsics, attributes, resource types and definition sources', () => {
    const template = parseTemplate({
      Resources: {
        Queue: { Type: 'AWS::SQS::Queue', Properties: {} },
        Fn: { Type: 'AWS::Lambda::Function', Properties: {} },
        Machine: { Type: 'AWS::StepFunctions::StateMachine', Properties: { DefinitionString: '{}', DefinitionSubstitutions: { X: 'y' } } },
      },
    });
    expect(() => resolveCfnValue(template, { 'Fn::Sub': 'x' })).toThrow('Fn::Sub cannot be resolved locally');
    expect(() => resolveCfnValue(template, { 'Fn::GetAtt': ['Fn', 'Version'] })).toThrow(
      'Fn::GetAtt Fn.Version has no local value (only Arn has)',
    );
    expect(() => resolveCfnValue(template, { Ref: 'Queue' })).toThrow('Queue (AWS::SQS::Queue) has no local name or ARN');
    expect(() => stateMachineDefinitions(template)).toThrow('State machine Machine: DefinitionSubstitutions is not supported locally');
  });
});
