import { Match, Template } from 'aws-cdk-lib/assertions';
import { ErrorNames } from '../../lambdas/shared/errors';
import { RETRY_AFTER_CAP_MS } from '../../lambdas/shared/epilot/http';
import { deploymentSettings } from '../../lib/deployment-settings';
import { EpilotTaskRunnerStack } from '../../lib/stack';
import { SweepStates, TaskStates } from '../../lambdas/state-names';
import * as z from 'zod';
import type { AslState } from '../../local/emulator/asl';
import { createLocalApp, findStateMachineDefinition, stateMachineDefinitions } from '../../local/emulator/synthesized-definitions';

function synth(context: Record<string, unknown> = {}) {
  const app = createLocalApp();
  const stack = new EpilotTaskRunnerStack(app, 'EpilotTaskRunner', {
    settings: deploymentSettings({ epilotTokenSecretName: 'my/epilot-token', ...context }),
  });
  const template = Template.fromStack(stack);
  const definitions = stateMachineDefinitions(template.toJSON() as never);
  return {
    template,
    task: findStateMachineDefinition(definitions, stack.taskStateMachine.stateMachine),
    sweep: findStateMachineDefinition(definitions, stack.sweep.stateMachine),
  };
}

const { template, task, sweep } = synth({ pollIntervalMs: '2000', automationTimeoutMs: '600000' });
const taskState = (name: string) => {
  const state = task.definition.States[name];
  if (!state) throw new Error(`no state ${name}`);
  return state;
};
// AslState keeps the fields the emulator does not read as `unknown`; these parse the two this file asserts on.
const rulesSchema = z.array(z.looseObject({ ErrorEquals: z.array(z.string()) })).default([]);
const retriesOf = (state: AslState) => rulesSchema.parse(state['Retry']);
const catchesOf = (state: AslState) => rulesSchema.parse(state['Catch']);
const retryFor = (state: AslState, error: string) => retriesOf(state).find((retry) => retry.ErrorEquals.includes(error));
const catchFor = (state: AslState, error: string) => catchesOf(state).find((handler) => handler.ErrorEquals.includes(error));

// ---- IAM: which function's role may do what ------------------------------------------------------------------

interface PolicyStatement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}
const policies = Object.values(template.findResources('AWS::IAM::Policy')).map((policy) => ({
  roles: (policy.Properties.Roles as Array<{ Ref: string }>).map((role) => role.Ref),
  statements: policy.Properties.PolicyDocument.Statement as PolicyStatement[],
}));
const actionsOf = (statement: PolicyStatement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]);
/** CDK's logical id without its 8-hex-digit hash: `TaskClaimTask3FFE6FD5` → `TaskClaimTask`. */
const withoutHash = (logicalId: string) => logicalId.replace(/[0-9A-F]{8}$/, '');
/** Role logical id → the function (hashless logical id) that runs with it, or the role itself for other roles. */
const principalOf = new Map<string, string>(
  Object.entries(template.findResources('AWS::Lambda::Function')).map(([logicalId, fn]) => [
    (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0],
    withoutHash(logicalId),
  ]),
);
const principal = (role: string) => principalOf.get(role) ?? withoutHash(role);
/** The sorted actions every statement attached to the role of `fn` allows. */
const actionsOfFunction = (fn: string) =>
  [
    ...new Set(
      policies
        .filter((policy) => policy.roles.some((role) => principal(role) === fn))
        .flatMap((policy) => policy.statements.flatMap(actionsOf)),
    ),
  ].sort();
/** Every principal (function, or role when no function runs with it) allowed `action` on a resource matching `resource`. */
const principalsAllowed = (action: string, resource: (value: unknown) => boolean) =>
  policies
    .filter((policy) =>
      policy.statements.some(
        (statement) =>
          statement.Effect === 'Allow' &&
          actionsOf(statement).some((granted) => granted === action || granted === '*' || granted === 'states:*') &&
          resource(statement.Resource),
      ),
    )
    .flatMap((policy) => policy.roles.map(principal))
    .sort();
const isTaskStateMachine = (resource: unknown) => resource === '*' || JSON.stringify(resource).includes('"TaskStateMachine');

describe('task records table', () => {
  it('is on-demand, recoverable to a point in time, keyed by pk/sk and retained', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    });
  });
});

describe('open-records index', () => {
  it('indexes unfinished records by lease end, and only the sweep may query it', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: 'OpenRecords',
          KeySchema: [
            { AttributeName: 'open', KeyType: 'HASH' },
            { AttributeName: 'leaseUntil', KeyType: 'RANGE' },
          ],
        }),
      ],
    });
    const queryPolicies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([, policy]) =>
      JSON.stringify(policy.Properties.PolicyDocument).includes('dynamodb:Query'),
    );
    expect(queryPolicies.map(([logicalId]) => logicalId)).toEqual([expect.stringMatching(/^SweepDetectTasks/)]);
  });
});

describe('functions', () => {
  it('all run Node.js 22 on ARM64 with X-Ray and a log group with retention', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions)).toHaveLength(9); // 8 states + the webhook receiver
    for (const fn of Object.values(functions)) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' } });
      expect(fn.Properties.LoggingConfig.LogGroup).toBeDefined();
    }
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('get the deployment settings and the secret name, never a token', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          EPILOT_TOKEN_SECRET_NAME: 'my/epilot-token',
          POLL_INTERVAL_MS: '2000',
          AUTOMATION_TIMEOUT_MS: '600000',
        }),
      },
    });
    expect(JSON.stringify(template.toJSON())).not.toMatch(/Bearer|EPILOT_API_TOKEN/);
  });

  const XRAY = ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'];
  const SECRET = ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'];
  const RECORDS = ['dynamodb:GetItem', 'dynamodb:PutItem'];
  it.each([
    ['TaskFetchExecution', [...SECRET, ...XRAY]],
    ['TaskFindTask', XRAY],
    ['TaskClaimTask', [...RECORDS, ...XRAY]],
    ['TaskStartAutomation', [...RECORDS, ...SECRET, ...XRAY]],
    ['TaskGetAutomationStatus', [...SECRET, ...XRAY]],
    ['TaskCancelAutomation', [...RECORDS, ...SECRET, ...XRAY]],
    ['TaskPatchStep', [...RECORDS, ...SECRET, ...XRAY]],
    ['SweepDetectTasks', [...RECORDS, 'dynamodb:Query', ...SECRET, 'states:DescribeExecution', 'states:StartExecution', ...XRAY]],
    ['WebhookFunction', [...RECORDS, ...SECRET, 'states:DescribeExecution', 'states:StartExecution', ...XRAY]],
  ])("%s's role is allowed exactly these actions", (fn, actions) => {
    expect(actionsOfFunction(fn)).toEqual([...actions].sort());
  });

  it('lets only Detect tasks (sweep) and the webhook start task executions', () => {
    expect(principalsAllowed('states:StartExecution', isTaskStateMachine)).toEqual(['SweepDetectTasks', 'WebhookFunction']);
  });
});

describe('triggers', () => {
  it('may tell a running task execution from an ended one (sweep and webhook), and nothing else may', () => {
    const describers = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([, policy]) => JSON.stringify(policy.Properties.PolicyDocument).includes('states:DescribeExecution'))
      .map(([logicalId]) => logicalId);
    expect(describers).toEqual([expect.stringMatching(/^SweepDetectTasks/), expect.stringMatching(/^WebhookFunction/)]);
  });
});

describe('state machines', () => {
  it('are Standard, JSONPath, traced and logged', () => {
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 2);
    template.allResourcesProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ERROR' }),
    });
    expect(task.definition.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
  });

  it('the sweep runs on the schedule, every minute by default', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('^SweepStateMachine') }, Input: '{}' })],
    });
  });

  it('a deployment refuses a sweep rate of 0, saying the sweep is what resumes dead executions', () => {
    expect(() => deploymentSettings({ sweepRateMinutes: '0' })).toThrow(
      /sweepRateMinutes: must be at least 1; the scheduled sweep is what resumes the tasks of executions that died/,
    );
  });
});

describe('task state machine', () => {
  it('runs the states in order and loops through the Wait state', () => {
    expect(task.definition.StartAt).toBe(TaskStates.fetchExecution);
    expect(taskState(TaskStates.fetchExecution).Next).toBe(TaskStates.findTask);
    expect(taskState(TaskStates.findTask).Next).toBe(TaskStates.claimTask);
    expect(taskState(TaskStates.claimTask).Next).toBe(TaskStates.runAutomation);
    expect(taskState(TaskStates.startAutomation).Next).toBe(TaskStates.getAutomationStatus);
    expect(taskState(TaskStates.getAutomationStatus).Next).toBe(TaskStates.automationFinished);
    expect(taskState(TaskStates.waitForAutomation)).toMatchObject({ Type: 'Wait', Seconds: 2, Next: TaskStates.getAutomationStatus });
    expect(taskState(TaskStates.cancelAutomation).Next).toBe(TaskStates.patchStep);
    expect(z.array(z.looseObject({})).parse(taskState(TaskStates.automationFinished)['Choices'])[0]).toMatchObject({
      Variable: '$.run.finished',
      Next: TaskStates.patchStep,
    });
  });

  it('sends a run whose step someone else finalized from "Automation finished?" to Cancel automation', () => {
    expect(z.array(z.looseObject({})).parse(taskState(TaskStates.automationFinished)['Choices'])).toContainEqual({
      Variable: '$.stepFinalizedElsewhere',
      IsPresent: true,
      Next: TaskStates.cancelAutomation,
    });
  });

  it('binds every Task state to a Lambda of the stack', () => {
    expect(Object.keys(task.taskFunctions).sort()).toEqual(
      [
        TaskStates.fetchExecution,
        TaskStates.findTask,
        TaskStates.claimTask,
        TaskStates.startAutomation,
        TaskStates.getAutomationStatus,
        TaskStates.cancelAutomation,
        TaskStates.patchStep,
      ].sort(),
    );
  });

  it.each([TaskStates.fetchExecution, TaskStates.startAutomation, TaskStates.cancelAutomation, TaskStates.patchStep])(
    '%s retries transient epilot errors with capped, jittered backoff',
    (name) => {
      expect(retryFor(taskState(name), ErrorNames.epilotTransient)).toMatchObject({
        MaxAttempts: 5,
        MaxDelaySeconds: 60,
        JitterStrategy: 'FULL',
      });
    },
  );

  it.each([TaskStates.claimTask, TaskStates.startAutomation, TaskStates.patchStep])('%s re-decides after a record conflict', (name) => {
    expect(retryFor(taskState(name), ErrorNames.recordConflict)).toMatchObject({ MaxAttempts: 3, JitterStrategy: 'FULL' });
  });

  it('never retries a permanent error or bad data (except Get automation status, which re-polls bad data a few times)', () => {
    for (const [name, state] of Object.entries(task.definition.States)) {
      for (const error of [ErrorNames.epilotPermanent, ErrorNames.invalidEpilotData, ErrorNames.invalidStateInput]) {
        if (name === TaskStates.getAutomationStatus && error === ErrorNames.invalidEpilotData) continue;
        expect({ name, retry: retryFor(state, error) }).toEqual({ name, retry: undefined });
      }
    }
  });

  it('fails the step when a start is refused, and hands over when another execution took the task', () => {
    const start = taskState(TaskStates.startAutomation);
    expect(catchFor(start, ErrorNames.epilotPermanent)).toMatchObject({ Next: TaskStates.patchStep, ResultPath: '$.error' });
    expect(catchFor(start, ErrorNames.invalidEpilotData)).toMatchObject({ Next: TaskStates.patchStep });
    expect(catchFor(start, ErrorNames.ownershipLost)).toMatchObject({ Next: TaskStates.handedOver });
    // A transient failure must not fail the step: the run may exist; a later execution adopts it.
    expect(catchFor(start, ErrorNames.epilotTransient)).toBeUndefined();
    expect(catchFor(start, 'States.ALL')).toBeUndefined();
  });

  it('fails the step when a start is refused with 401/403 (EpilotAuthError: nothing ran; the client already tried a fresh token), retrying it no further', () => {
    const start = taskState(TaskStates.startAutomation);
    expect(catchFor(start, ErrorNames.epilotAuth)).toMatchObject({ Next: TaskStates.patchStep, ResultPath: '$.error' });
    expect(retryFor(start, ErrorNames.epilotAuth)).toBeUndefined();
  });

  it.each([TaskStates.fetchExecution, TaskStates.cancelAutomation, TaskStates.patchStep])(
    '%s retries EpilotAuthError (a token being rotated) with capped full-jitter backoff, never into a step result',
    (name) => {
      const state = taskState(name);
      expect(retryFor(state, ErrorNames.epilotAuth)).toMatchObject({
        IntervalSeconds: 5,
        BackoffRate: 2,
        MaxAttempts: 5,
        MaxDelaySeconds: 60,
        JitterStrategy: 'FULL',
      });
      // Cancel and Patch step have a States.ALL catch; an auth error reaches it only after these retries.
      expect(catchFor(state, ErrorNames.epilotAuth)).toBeUndefined();
    },
  );

  it.each([
    TaskStates.fetchExecution,
    TaskStates.startAutomation,
    TaskStates.getAutomationStatus,
    TaskStates.cancelAutomation,
    TaskStates.patchStep,
  ])(
    '%s retries EpilotRateLimitedError unjittered, first after at least the longest Retry-After honoured (20 s), and never sooner later on',
    (name) => {
      const state = taskState(name);
      const retry = z
        .object({ IntervalSeconds: z.number(), BackoffRate: z.number(), JitterStrategy: z.string(), MaxAttempts: z.number() })
        .parse(retryFor(state, ErrorNames.epilotRateLimited));
      expect(retry.JitterStrategy).toBe('NONE');
      expect(retry.IntervalSeconds * 1000).toBeGreaterThanOrEqual(RETRY_AFTER_CAP_MS);
      expect(retry.BackoffRate).toBeGreaterThanOrEqual(1);
      expect(retry.MaxAttempts).toBeGreaterThan(1);
      expect(catchFor(state, ErrorNames.epilotRateLimited)).toBeUndefined();
    },
  );

  it('Detect tasks (sweep) retries rate limits unjittered for at least 20 s, transient and auth errors with backoff', () => {
    const detect = sweep.definition.States[SweepStates.detectTasks];
    if (!detect) throw new Error('no Detect tasks state');
    expect(retryFor(detect, ErrorNames.epilotRateLimited)).toMatchObject({ IntervalSeconds: 20, JitterStrategy: 'NONE' });
    expect(retryFor(detect, ErrorNames.epilotTransient)).toMatchObject({ MaxAttempts: 3, JitterStrategy: 'FULL' });
    expect(retryFor(detect, ErrorNames.epilotAuth)).toMatchObject({ MaxAttempts: 3, JitterStrategy: 'FULL' });
  });

  it('retries Start automation on StartOutcomeUnknownError, evenly, for longer than startSettleMs (default 180 s), and never catches it', () => {
    const start = taskState(TaskStates.startAutomation);
    const retry = retryFor(start, ErrorNames.startOutcomeUnknown);
    const waited = z.object({ IntervalSeconds: z.number(), MaxAttempts: z.number(), BackoffRate: z.number() }).parse(retry);
    expect(waited.BackoffRate).toBe(1);
    expect(waited.IntervalSeconds * waited.MaxAttempts).toBeGreaterThan(180);
    expect(catchFor(start, ErrorNames.startOutcomeUnknown)).toBeUndefined();
  });

  it.each([
    ErrorNames.epilotTransient,
    ErrorNames.epilotAuth,
    'States.Timeout',
    'Sandbox.Timedout',
    'Lambda.Unknown',
    'Lambda.TooManyRequestsException',
  ])('Get automation status retries %s with capped full-jitter backoff and never sends it to Cancel', (error) => {
    const poll = taskState(TaskStates.getAutomationStatus);
    expect(retryFor(poll, error)).toMatchObject({ JitterStrategy: 'FULL', BackoffRate: 2, MaxAttempts: 10, MaxDelaySeconds: 120 });
    expect(catchFor(poll, error)).toBeUndefined();
  });

  it.each([
    TaskStates.fetchExecution,
    TaskStates.findTask,
    TaskStates.claimTask,
    TaskStates.startAutomation,
    TaskStates.cancelAutomation,
    TaskStates.patchStep,
  ])(
    '%s retries a Lambda timeout or throttle (Sandbox.Timedout, Lambda.Unknown, Lambda.TooManyRequestsException) with backoff before any Catch',
    (name) => {
      const state = taskState(name);
      for (const error of ['Sandbox.Timedout', 'Lambda.Unknown', 'Lambda.TooManyRequestsException']) {
        expect(retryFor(state, error)).toMatchObject({ JitterStrategy: 'FULL', BackoffRate: 2, MaxAttempts: 3 });
      }
    },
  );

  it('Detect tasks (sweep) retries a Lambda timeout or throttle', () => {
    const detect = sweep.definition.States[SweepStates.detectTasks];
    if (!detect) throw new Error('no Detect tasks state');
    for (const error of ['Sandbox.Timedout', 'Lambda.Unknown', 'Lambda.TooManyRequestsException']) {
      expect(retryFor(detect, error)).toMatchObject({ MaxAttempts: 3, JitterStrategy: 'FULL' });
    }
  });

  // CDK's own service-exception retrier (retryOnServiceExceptions) comes first for these and wins.
  it.each(['Lambda.ServiceException', 'Lambda.SdkClientException'])(
    'Get automation status retries %s and never sends it to Cancel',
    (error) => {
      const poll = taskState(TaskStates.getAutomationStatus);
      expect(retryFor(poll, error)).toBeDefined();
      expect(catchFor(poll, error)).toBeUndefined();
    },
  );

  it('Get automation status cancels the run only for errors about the run: 404 (EpilotPermanentError) and bad data after retries', () => {
    const poll = taskState(TaskStates.getAutomationStatus);
    expect(catchFor(poll, 'States.ALL')).toBeUndefined();
    expect(catchFor(poll, ErrorNames.epilotPermanent)).toMatchObject({ Next: TaskStates.cancelAutomation, ResultPath: '$.error' });
    expect(catchFor(poll, ErrorNames.invalidEpilotData)).toMatchObject({ Next: TaskStates.cancelAutomation, ResultPath: '$.error' });
    expect(retryFor(poll, ErrorNames.invalidEpilotData)).toMatchObject({ MaxAttempts: 3, JitterStrategy: 'FULL' });
  });

  it('a run that cannot be cancelled still gets its step patched', () => {
    expect(catchFor(taskState(TaskStates.cancelAutomation), 'States.ALL')).toMatchObject({
      Next: TaskStates.patchStep,
      ResultPath: '$.cancelError',
    });
  });

  it('a patch that fails for good ends the execution failed, leaving the record for the next one', () => {
    const patch = taskState(TaskStates.patchStep);
    expect(catchFor(patch, ErrorNames.ownershipLost)).toMatchObject({ Next: TaskStates.handedOver });
    expect(catchFor(patch, 'States.ALL')).toMatchObject({ Next: TaskStates.stepNotPatched });
    expect(catchesOf(patch)[0]?.ErrorEquals).toEqual([ErrorNames.ownershipLost]);
    expect(taskState(TaskStates.stepNotPatched).Type).toBe('Fail');
  });

  it('routes skip, patch and run after the claim', () => {
    const choice = task.definition.States[TaskStates.runAutomation] as unknown as {
      Choices: Array<{ StringEquals: string; Next: string }>;
      Default: string;
    };
    expect(choice.Choices.map((rule) => [rule.StringEquals, rule.Next])).toEqual([
      ['skip', TaskStates.nothingToDo],
      ['patch', TaskStates.patchStep],
    ]);
    expect(choice.Default).toBe(TaskStates.startAutomation);
  });
});

describe('sweep state machine', () => {
  it('pages through Detect tasks until done, retrying transient errors', () => {
    const states = sweep.definition.States;
    const detectTasks = states[SweepStates.detectTasks];
    if (!detectTasks) throw new Error(`no state ${SweepStates.detectTasks}`);
    expect(sweep.definition.StartAt).toBe(SweepStates.detectTasks);
    expect(retryFor(detectTasks, ErrorNames.epilotTransient)).toMatchObject({ JitterStrategy: 'FULL' });
    expect(states[SweepStates.morePages]).toMatchObject({ Type: 'Choice', Default: SweepStates.detectTasks });
  });
});
