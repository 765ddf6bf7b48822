import {
  type DescribeExecutionCommandInput,
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  type StartExecutionCommandInput,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  type GetCommandInput,
  GetCommand,
  type PutCommandInput,
  PutCommand,
  type QueryCommandInput,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { ErrorNames } from '../shared/errors';
import {
  DONE_SETTLE_MS,
  epilot,
  lambdaContext,
  OTHER_EXECUTION,
  rejectionOf,
  setUpHandlerTests,
  STATE_MACHINE_ARN,
  TABLE_NAME,
  taskRecord,
} from '../../test/support/handler-test-kit';
import type { TaskRecord } from '../shared/records/task-records';
import { handler } from './handler';

const aws = setUpHandlerTests();

const SWEEP_EXECUTION = 'arn:aws:states:eu-central-1:123456789012:execution:Sweep:sweep-1';
/** Every key epilot's EntitySearchParams allow (`additionalProperties: false`). */
const ALLOWED_SEARCH_KEYS = [
  'q',
  'include_scores',
  'sort',
  'from',
  'size',
  'hydrate',
  'fields',
  'aggs',
  'include_deleted',
  'highlight',
  'stable_for',
  'stable_query_id',
  'search_after',
];

/** An entity whose current task, by its workflow summary, is an AUTOMATION task of a STARTED workflow. */
function entityWithAutomationTask(entityId: string, workflowExecutionId: string, taskId: string) {
  const summary = { id: workflowExecutionId, status: 'STARTED', task_id: taskId, task_execution_type: 'AUTOMATION' };
  return { _id: entityId, _schema: 'opportunity', _title: entityId, workflows: { def1: [summary], primary: summary } };
}

function plainEntity(entityId: string) {
  return { _id: entityId, _schema: 'contact', workflows: {} };
}

/** The table: records by `TASK#<wf>/<task>`; every other task has none; no abandoned record unless given. */
function givenRecords(records: Record<string, Partial<TaskRecord>>, abandoned: Array<Partial<TaskRecord>> = []) {
  aws.ddb.on(QueryCommand).callsFake((input: QueryCommandInput) => {
    expect(input).toMatchObject({ TableName: TABLE_NAME, IndexName: 'OpenRecords' });
    return { Items: abandoned.map((overrides) => taskRecord(overrides)) };
  });
  aws.ddb.on(GetCommand).callsFake((input: GetCommandInput) => {
    expect(input.TableName).toBe(TABLE_NAME);
    const key = `${String(input.Key?.pk)}/${String(input.Key?.sk)}`;
    const overrides = records[key];
    return overrides ? { Item: taskRecord(overrides) } : {};
  });
  // Only a sweep's note of a resume writes: conditional on the version read.
  aws.ddb.on(PutCommand).callsFake((input: PutCommandInput) => {
    expect(input).toMatchObject({ TableName: TABLE_NAME, ConditionExpression: '#version = :expected' });
    return {};
  });
}

/**
 * Step Functions: starts everything, except the names listed as already existing (still running, or ended — the
 * default) or failing.
 */
function givenStepFunctions(options: { existing?: string[]; running?: string[]; failing?: string[] } = {}) {
  const existing = [...(options.existing ?? []), ...(options.running ?? [])];
  aws.sfn.on(StartExecutionCommand).callsFake((input: StartExecutionCommandInput) => {
    if (existing.includes(input.name ?? '')) {
      throw new ExecutionAlreadyExists({ message: `Execution Already Exists: '${input.name}'`, $metadata: {} });
    }
    if (options.failing?.includes(input.name ?? '')) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    return { executionArn: `${STATE_MACHINE_ARN.replace('stateMachine', 'execution')}:${input.name}`, startDate: new Date() };
  });
  aws.sfn.on(DescribeExecutionCommand).callsFake((input: DescribeExecutionCommandInput) => {
    const name = input.executionArn?.split(':').pop() ?? '';
    expect(input.executionArn).toBe(`${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${name}`);
    return { status: options.running?.includes(name) ? 'RUNNING' : 'FAILED' };
  });
}

function startedExecutions() {
  return aws.sfn.commandCalls(StartExecutionCommand).map((call) => {
    const { stateMachineArn, name, input } = call.args[0].input;
    return { stateMachineArn, name, input: JSON.parse(input ?? 'null') as unknown };
  });
}

/** Replies to one entity search and keeps the body it was sent. */
function searchReplies(reply: Record<string, unknown>) {
  const sent: Array<Record<string, unknown>> = [];
  epilot()
    .post('/v1/entity:search', (body: Record<string, unknown>) => {
      sent.push(body);
      return true;
    })
    .reply(200, reply);
  return sent;
}

describe('detect-tasks handler', () => {
  it('searches with only allowed keys and starts one execution per new automation task', async () => {
    const sent = searchReplies({
      hits: 3,
      results: [
        entityWithAutomationTask('11111111-1111-1111-1111-111111111111', '85mk9wzyp98', '8tpx9mi4ryb'),
        plainEntity('e2'),
        entityWithAutomationTask('e3', 'wf3', 'task3'),
      ],
      sort_end: ['2024-01-01T00:00:00.000Z', 'e3'],
    });
    givenRecords({});
    givenStepFunctions();

    const result = await handler({ execution: SWEEP_EXECUTION }, lambdaContext());

    expect(sent).toHaveLength(1);
    const body = sent[0] ?? {};
    expect(Object.keys(body).filter((key) => !ALLOWED_SEARCH_KEYS.includes(key))).toEqual([]);
    expect(body).toMatchObject({ q: '*', size: 1000 });
    expect(body.size as number).toBeLessThanOrEqual(1000);
    expect(body).not.toHaveProperty('search_after');
    expect(startedExecutions()).toEqual([
      {
        stateMachineArn: STATE_MACHINE_ARN,
        name: '85mk9wzyp98-8tpx9mi4ryb-1',
        input: {
          workflowExecutionId: '85mk9wzyp98',
          taskId: '8tpx9mi4ryb',
          entityId: '11111111-1111-1111-1111-111111111111',
          trigger: 'sweep',
          attempt: 1,
        },
      },
      {
        stateMachineArn: STATE_MACHINE_ARN,
        name: 'wf3-task3-1',
        input: { workflowExecutionId: 'wf3', taskId: 'task3', entityId: 'e3', trigger: 'sweep', attempt: 1 },
      },
    ]);
    expect(result).toEqual({
      page: 1,
      seen: 3,
      done: true,
      candidates: 2,
      started: 2,
      alreadyRunning: 0,
      recentlyDone: 0,
      failedToStart: 0,
      resumed: 0,
    });
  });

  it('starts a page’s 35 candidates at most 10 at a time, and every one of them', async () => {
    searchReplies({
      hits: 35,
      results: Array.from({ length: 35 }, (_unused, i) => entityWithAutomationTask(`e${i}`, `wf${i}`, `task${i}`)),
    });
    givenRecords({});
    let inFlight = 0;
    let mostInFlight = 0;
    aws.sfn.on(StartExecutionCommand).callsFake(async (input: StartExecutionCommandInput) => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      return { executionArn: `${STATE_MACHINE_ARN.replace('stateMachine', 'execution')}:${input.name ?? ''}`, startDate: new Date() };
    });

    const result = await handler({ execution: SWEEP_EXECUTION }, lambdaContext());

    expect(mostInFlight).toBe(10);
    expect(new Set(startedExecutions().map((started) => started.name)).size).toBe(35);
    expect(result).toMatchObject({ candidates: 35, started: 35, failedToStart: 0 });
  });

  it('counts ExecutionAlreadyExists of a running execution as already running, not as a failure', async () => {
    searchReplies({ hits: 1, results: [entityWithAutomationTask('e1', 'wf1', 'task1')] });
    // A record whose lease ran out: the next attempt's name, which another trigger has started already.
    givenRecords({ 'TASK#wf1/task1': { status: 'CLAIMED', attempt: 1, leaseUntil: 0 } });
    givenStepFunctions({ running: ['wf1-task1-2'] });

    const result = await handler({ execution: SWEEP_EXECUTION }, lambdaContext());

    expect(startedExecutions().map((execution) => execution.name)).toEqual(['wf1-task1-2']);
    expect(result).toMatchObject({ candidates: 1, started: 0, alreadyRunning: 1, failedToStart: 0 });
  });

  it('retries a task whose next attempt exists but died before its claim (the record did not move on)', async () => {
    searchReplies({ hits: 1, results: [entityWithAutomationTask('e1', 'wf1', 'task1')] });
    givenRecords({ 'TASK#wf1/task1': { status: 'PATCHING', attempt: 2, leaseUntil: 0 } });
    givenStepFunctions({ existing: ['wf1-task1-3'] });

    const result = await handler({ execution: SWEEP_EXECUTION }, lambdaContext());

    expect(startedExecutions().map((execution) => execution.name)).toEqual(['wf1-task1-3', expect.stringMatching(/^wf1-task1-3-r\d+$/)]);
    expect(result).toMatchObject({ candidates: 1, started: 1, alreadyRunning: 0 });
  });

  it('retries a task whose first execution ended without writing a record, under one name per window', async () => {
    searchReplies({ hits: 1, results: [entityWithAutomationTask('e1', 'wf1', 'task1')] });
    givenRecords({});
    givenStepFunctions({ existing: ['wf1-task1-1'] });

    const result = await handler({ execution: SWEEP_EXECUTION }, lambdaContext());

    expect(startedExecutions().map((execution) => execution.name)).toEqual(['wf1-task1-1', expect.stringMatching(/^wf1-task1-1-r\d+$/)]);
    expect(result).toMatchObject({ candidates: 1, started: 1, alreadyRunning: 0, failedToStart: 0 });
  });

  it('does not start a task finished within the settle time, nor one with a live execution', async () => {
    searchReplies({
      hits: 2,
      results: [entityWithAutomationTask('e1', 'wf1', 'task1'), entityWithAutomationTask('e2', 'wf2', 'task2')],
    });
    givenRecords({
      'TASK#wf1/task1': { workflowExecutionId: 'wf1', taskId: 'task1', status: 'DONE', attempt: 1, finishedAt: Date.now() - 1000 },
      'TASK#wf2/task2': {
        workflowExecutionId: 'wf2',
        taskId: 'task2',
        status: 'STARTED',
        owner: OTHER_EXECUTION,
        leaseUntil: Date.now() + 60_000,
      },
    });

    const result = await handler({ execution: SWEEP_EXECUTION }, lambdaContext());

    expect(aws.sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(result).toMatchObject({ candidates: 2, started: 0, recentlyDone: 1, alreadyRunning: 1 });
  });

  it('starts the next attempt for a task finished before the settle time or whose owner died', async () => {
    searchReplies({
      hits: 2,
      results: [entityWithAutomationTask('e1', 'wf1', 'task1'), entityWithAutomationTask('e2', 'wf2', 'task2')],
    });
    givenRecords({
      'TASK#wf1/task1': {
        workflowExecutionId: 'wf1',
        taskId: 'task1',
        status: 'DONE',
        attempt: 2,
        finishedAt: Date.now() - DONE_SETTLE_MS - 1,
      },
      'TASK#wf2/task2': { workflowExecutionId: 'wf2', taskId: 'task2', status: 'CLAIMED', attempt: 1, leaseUntil: Date.now() - 1 },
    });
    givenStepFunctions();

    const result = await handler({ execution: SWEEP_EXECUTION }, lambdaContext());

    expect(startedExecutions().map(({ name, input }) => ({ name, attempt: (input as { attempt: number }).attempt }))).toEqual([
      { name: 'wf1-task1-3', attempt: 3 },
      { name: 'wf2-task2-2', attempt: 2 },
    ]);
    expect(result).toMatchObject({ started: 2 });
  });

  it('on its first page, resumes tasks whose execution died even when search no longer shows them', async () => {
    searchReplies({ hits: 1, results: [plainEntity('c1')] });
    const abandoned = {
      workflowExecutionId: 'wf9',
      taskId: 'task9',
      entityId: 'e9',
      status: 'PATCHING' as const,
      attempt: 2,
      leaseUntil: Date.now() - 1,
    };
    givenRecords({ 'TASK#wf9/task9': abandoned }, [abandoned]);
    givenStepFunctions();

    const result = await handler({ execution: SWEEP_EXECUTION }, lambdaContext());

    expect(startedExecutions()).toEqual([
      expect.objectContaining({ name: 'wf9-task9-3', input: expect.objectContaining({ entityId: 'e9', attempt: 3 }) }),
    ]);
    expect(result).toMatchObject({ resumed: 1, candidates: 1, started: 1 });
  });

  it('looks for abandoned records only on the first page of a sweep', async () => {
    searchReplies({ hits: 1, results: [plainEntity('c1')] });
    givenRecords({}, [{ workflowExecutionId: 'wf9', taskId: 'task9', leaseUntil: Date.now() - 1 }]);
    givenStepFunctions();

    const result = await handler({ state: { page: 1, cursor: [1, 'c0'], seen: 1000 }, execution: SWEEP_EXECUTION }, lambdaContext());

    expect(aws.ddb.commandCalls(QueryCommand)).toHaveLength(0);
    expect(result).toMatchObject({ resumed: 0, started: 0 });
  });

  it('goes on with the sweep when one task cannot be started', async () => {
    searchReplies({
      hits: 2,
      results: [entityWithAutomationTask('e1', 'wf1', 'task1'), entityWithAutomationTask('e2', 'wf2', 'task2')],
    });
    givenRecords({});
    givenStepFunctions({ failing: ['wf1-task1-1'] });

    const result = await handler({ execution: SWEEP_EXECUTION }, lambdaContext());

    expect(startedExecutions().map((execution) => execution.name)).toEqual(['wf1-task1-1', 'wf2-task2-1']);
    expect(result).toMatchObject({ candidates: 2, started: 1, failedToStart: 1, done: true });
  });

  it('pages with search_after: a full page returns the cursor, the next call sends it and finishes', async () => {
    const fullPage = [
      entityWithAutomationTask('e0', 'wf0', 'task0'),
      ...Array.from({ length: 999 }, (_, index) => plainEntity(`plain-${index}`)),
    ];
    const firstBodies = searchReplies({ hits: 1002, results: fullPage, sort_end: [1714564800000, 'plain-998'] });
    givenRecords({});
    givenStepFunctions();

    const first = await handler({ execution: SWEEP_EXECUTION }, lambdaContext());

    expect(firstBodies[0]).not.toHaveProperty('search_after');
    expect(first).toEqual({
      page: 1,
      cursor: [1714564800000, 'plain-998'],
      seen: 1000,
      done: false,
      candidates: 1,
      started: 1,
      alreadyRunning: 0,
      recentlyDone: 0,
      failedToStart: 0,
      resumed: 0,
    });

    const secondBodies = searchReplies({
      hits: 1002,
      results: [plainEntity('last-1'), entityWithAutomationTask('last-2', 'wf9', 'task9')],
      sort_end: [1714564900000, 'last-2'],
    });

    const second = await handler({ state: first, execution: SWEEP_EXECUTION }, lambdaContext());

    expect(secondBodies[0]).toMatchObject({ q: '*', size: 1000, search_after: [1714564800000, 'plain-998'] });
    expect(second).toEqual({
      page: 2,
      seen: 1002,
      done: true,
      candidates: 2,
      started: 2,
      alreadyRunning: 0,
      recentlyDone: 0,
      failedToStart: 0,
      resumed: 0,
    });
    expect(startedExecutions().map((execution) => execution.name)).toEqual(['wf0-task0-1', 'wf9-task9-1']);
  });

  it('keeps the state data small however many entities a page holds', async () => {
    searchReplies({
      hits: 1000,
      results: Array.from({ length: 1000 }, (_, index) => entityWithAutomationTask(`e${index}`, `wf${index}`, `task${index}`)),
      sort_end: [1, 'e999'],
    });
    givenRecords({});
    givenStepFunctions();

    const result = await handler({ execution: SWEEP_EXECUTION }, lambdaContext());

    expect(result).toMatchObject({ seen: 1000, done: true, candidates: 1000, started: 1000 });
    expect(JSON.stringify(result).length).toBeLessThan(500);
  });

  it('fails with EpilotTransientError when the search keeps being rate limited', async () => {
    epilot().post('/v1/entity:search').times(3).reply(429, { status: 429, error: 'Too Many Requests' }, { 'Retry-After': '0' });
    givenRecords({});

    const error = await rejectionOf(handler({ execution: SWEEP_EXECUTION }, lambdaContext()));

    expect(error.name).toBe(ErrorNames.epilotTransient);
    expect(error.message).toContain('searchEntities');
    expect(aws.sfn.calls()).toHaveLength(0);
  });

  it('resumes abandoned records on the first page even when the entity search keeps failing', async () => {
    epilot().post('/v1/entity:search').times(3).reply(429, { status: 429, error: 'Too Many Requests' }, { 'Retry-After': '0' });
    const abandoned = { workflowExecutionId: 'wf9', taskId: 'task9', entityId: 'e9', attempt: 1, leaseUntil: Date.now() - 1 };
    givenRecords({ 'TASK#wf9/task9': abandoned }, [abandoned]);
    givenStepFunctions();

    const error = await rejectionOf(handler({ execution: SWEEP_EXECUTION }, lambdaContext()));

    expect(error.name).toBe(ErrorNames.epilotTransient);
    expect(startedExecutions().map((execution) => execution.name)).toEqual(['wf9-task9-2']);
  });

  it('skips one malformed abandoned record and still resumes the others on the page', async () => {
    searchReplies({ hits: 0, results: [] });
    const good = { workflowExecutionId: 'wf8', taskId: 'task8', entityId: 'e8', attempt: 1, leaseUntil: Date.now() - 1 };
    givenRecords({ 'TASK#wf8/task8': good }, [good]);
    // A record this code cannot read (a status from a newer version, most fields missing) ahead of a good one.
    const unreadable = { pk: 'TASK#wf7', sk: 'task7', status: 'SOMETHING NEW', open: 'OPEN', leaseUntil: 1 };
    aws.ddb.on(QueryCommand).resolves({ Items: [unreadable, taskRecord(good)] });
    givenStepFunctions();

    const result = await handler({ execution: SWEEP_EXECUTION }, lambdaContext());

    expect(startedExecutions().map((execution) => execution.name)).toEqual(['wf8-task8-2']);
    expect(result).toMatchObject({ resumed: 1, started: 1, failedToStart: 0, done: true });
  });

  it('notes each resume on the record so a record resumed repeatedly backs off for twice as long each time', async () => {
    searchReplies({ hits: 0, results: [] });
    const now = Date.now();
    const poison = { workflowExecutionId: 'wf6', taskId: 'task6', entityId: 'e6', attempt: 3, leaseUntil: now - 1, resumeCount: 2 };
    givenRecords({ 'TASK#wf6/task6': poison }, [poison]);
    givenStepFunctions();

    await handler({ execution: SWEEP_EXECUTION }, lambdaContext());

    const query = aws.ddb.commandCalls(QueryCommand)[0]?.args[0].input;
    expect(query?.FilterExpression).toBe('attribute_not_exists(resumeAfter) OR resumeAfter < :now');
    const noted = aws.ddb.commandCalls(PutCommand).map((call) => call.args[0].input.Item);
    expect(noted).toHaveLength(1);
    expect(noted[0]).toMatchObject({ pk: 'TASK#wf6', sk: 'task6', resumeCount: 3, leaseUntil: now - 1 });
    // Third resume: 4 × the one-minute base.
    expect(Number(noted[0]?.resumeAfter) - now).toBeGreaterThanOrEqual(4 * 60_000);
    expect(Number(noted[0]?.resumeAfter) - now).toBeLessThan(4 * 60_000 + 5000);
  });

  it('fails with InvalidStateInputError for a malformed sweep state', async () => {
    const error = await rejectionOf(handler({ state: { page: -1 }, execution: SWEEP_EXECUTION }, lambdaContext()));

    expect(error.name).toBe(ErrorNames.invalidStateInput);
  });
});
