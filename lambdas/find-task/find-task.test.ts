import type { TaskState } from '../shared/domain/task-state';
import { decideTask } from './find-task';

type Execution = NonNullable<TaskState['execution']>;
type Task = NonNullable<Execution['task']>;

function aState(execution: Execution | undefined, overrides: Partial<TaskState> = {}): TaskState {
  return { workflowExecutionId: 'wf-1', taskId: 'task-1', trigger: 'sweep', execution, ...overrides };
}

function anExecution(task: Partial<Task> | undefined, overrides: Partial<Execution> = {}): Execution {
  return {
    found: true,
    workflowStatus: 'STARTED',
    entityId: 'entity-from-execution',
    task: task === undefined ? undefined : { id: 'task-1', status: 'PENDING', executionType: 'AUTOMATION', flowId: 'flow-1', ...task },
    ...overrides,
  };
}

describe('decideTask', () => {
  it('runs a pending AUTOMATION step of a STARTED workflow, with the entity of the execution', () => {
    expect(decideTask(aState(anExecution({})))).toEqual({
      action: 'run',
      reason: 'automation task is due',
      flowId: 'flow-1',
      entityId: 'entity-from-execution',
    });
  });

  it('prefers the entity the execution was started for (the searched entity) over the execution’s', () => {
    const decision = decideTask(aState(anExecution({}), { entityId: 'entity-from-input' }));

    expect(decision).toMatchObject({ action: 'run', entityId: 'entity-from-input' });
  });

  it.each(['PENDING', 'IN_PROGRESS', 'SCHEDULED', 'CONDITION_PENDING', 'WAITING_FOR_CONFIRMATION', 'ON_HOLD', 'ASSIGNED', undefined])(
    'runs a step whose status is %s',
    (status) => {
      expect(decideTask(aState(anExecution({ status }))).action).toBe('run');
    },
  );

  it('skips when the execution was not fetched', () => {
    expect(decideTask(aState(undefined))).toEqual({ action: 'skip', reason: 'execution not found' });
  });

  it('skips when epilot does not know the execution', () => {
    expect(decideTask(aState({ found: false }))).toEqual({ action: 'skip', reason: 'execution not found' });
  });

  it('skips when the task is not in the execution', () => {
    expect(decideTask(aState(anExecution(undefined)))).toEqual({
      action: 'skip',
      reason: 'task not found in the workflow execution',
    });
  });

  it('skips a MANUAL task', () => {
    expect(decideTask(aState(anExecution({ executionType: 'MANUAL' })))).toEqual({
      action: 'skip',
      reason: 'not an AUTOMATION task (MANUAL)',
    });
  });

  it('skips a task without execution type', () => {
    expect(decideTask(aState(anExecution({ executionType: undefined })))).toEqual({
      action: 'skip',
      reason: 'not an AUTOMATION task (no execution type)',
    });
  });

  it.each([
    ['DONE', 'workflow not STARTED (DONE)'],
    ['CLOSED', 'workflow not STARTED (CLOSED)'],
    [undefined, 'workflow not STARTED (no status)'],
  ])('skips a workflow whose status is %s', (workflowStatus, reason) => {
    expect(decideTask(aState(anExecution({}, { workflowStatus })))).toEqual({ action: 'skip', reason });
  });

  it.each(['COMPLETED', 'SKIPPED', 'FAILED'])('skips a step that is already %s', (status) => {
    expect(decideTask(aState(anExecution({ status })))).toEqual({
      action: 'skip',
      reason: `step already final (${status})`,
    });
  });

  it('skips a task without automation flowId', () => {
    expect(decideTask(aState(anExecution({ flowId: undefined })))).toEqual({
      action: 'skip',
      reason: 'no automation flowId configured on the task',
    });
  });

  it('skips when neither input nor execution names an entity', () => {
    expect(decideTask(aState(anExecution({}, { entityId: undefined })))).toEqual({
      action: 'skip',
      reason: 'no entity to run the automation for',
    });
  });
});
