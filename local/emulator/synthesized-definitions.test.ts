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
    expect(states['Flaky']?.['Resource']).toBe('arn:aws:states:::lambda:invoke');
    expect(states['Flaky']?.['Parameters']).toMatchObject({ FunctionName: arn });
    expect(JSON.stringify(sample?.definition)).not.toMatch(/Fn::|"Ref"|\$\{Token/);
  });

  it('maps every Task state, nested ones included, to its Lambda', () => {
    const [sample] = definitions;
    expect(sample?.taskFunctions).toEqual({ Start: workerId, Audit: workerId, Item: workerId, Flaky: workerId, Poll: workerId });
    expect(sample?.tasks['Flaky']).toEqual({ integration: 'lambda-invoke', functionLogicalId: workerId });
    expect(sample?.tasks['Start']?.integration).toBe('lambda-arn');
  });

  it('finds a definition by construct, construct id or logical id', () => {
    const [sample] = definitions;
    expect(findStateMachineDefinition(definitions, stack.stateMachine)).toBe(sample);
    expect(findStateMachineDefinition(definitions, 'Sample')).toBe(sample);
    expect(findStateMachineDefinition(definitions, sample?.logicalId ?? '')).toBe(sample);
    expect(() => findStateMachineDefinition(definitions, 'Missing')).toThrow(/No state machine matches "Missing"/);
  });

  it('applies DefinitionSubstitutions and resolves Fn::Sub / GetAtt / Ref', () => {
    const handmade: CloudFormationTemplate = parseTemplate({
      Resources: {
        Fn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'named-fn' } },
        Queue: { Type: 'AWS::SQS::Queue', Properties: {} },
        Machine: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: {
            StateMachineName: 'machine',
            DefinitionString: {
              'Fn::Sub': [
                '{"StartAt":"Call","States":{"Call":{"Type":"Task","Resource":"arn:${AWS::Partition}:states:::lambda:invoke","Parameters":{"FunctionName":"${FnArn}","Payload":{"queue":"${Queue}","region":"${AWS::Region}"}},"Next":"Direct"},"Direct":{"Type":"Task","Resource":"${!Direct}","End":true}}}',
                { FnArn: { 'Fn::GetAtt': ['Fn', 'Arn'] } },
              ],
            },
            DefinitionSubstitutions: { Direct: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Fn', 'Arn'] }, ':$LATEST']] } },
          },
        },
      },
    });
    const [machine] = stateMachineDefinitions(handmade);
    expect(machine?.name).toBe('machine');
    expect(machine?.definition.States['Call']?.['Parameters']).toEqual({
      FunctionName: 'arn:aws:lambda:eu-central-1:000000000000:function:named-fn',
      Payload: { queue: 'https://sqs.eu-central-1.amazonaws.com/000000000000/Queue', region: 'eu-central-1' },
    });
    expect(machine?.definition.States['Direct']?.['Resource']).toBe('arn:aws:lambda:eu-central-1:000000000000:function:named-fn:$LATEST');
    expect(machine?.taskFunctions).toEqual({ Call: 'Fn', Direct: 'Fn' });
  });

  it('resolves pseudo parameters, Select/Split and drops AWS::NoValue', () => {
    const empty = parseTemplate({ Resources: {} });
    expect(
      resolveCfnValue(empty, {
        a: { Ref: 'AWS::AccountId' },
        b: { 'Fn::Select': [1, { 'Fn::Split': ['/', 'x/y/z'] }] },
        c: { Ref: 'AWS::NoValue' },
        d: [{ Ref: 'AWS::URLSuffix' }, { Ref: 'AWS::NoValue' }],
      }),
    ).toEqual({ a: '000000000000', b: 'y', d: ['amazonaws.com'] });
    expect(() => resolveCfnValue(empty, { 'Fn::ImportValue': 'x' })).toThrow(/cannot be resolved locally/);
  });
});
