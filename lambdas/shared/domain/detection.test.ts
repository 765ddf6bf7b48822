import { detectAutomationTasks } from './detection';
import type { SearchedEntity } from '../epilot/entity-api';

/** The entity of the integration guide's entity search example (step 1). */
const guideEntity: SearchedEntity = {
  _id: '11111111-1111-1111-1111-111111111111',
  _schema: 'opportunity',
  _title: 'Solar Installation Project',
  workflows: {
    rUqQv3Xd: [
      {
        id: '85mk9wzyp98',
        definition_id: 'rUqQv3Xd',
        name: 'Solar Workflow',
        status: 'STARTED',
        task_id: '8tpx9mi4ryb',
        task_name: 'Clean Energy',
        task_execution_type: 'AUTOMATION',
        phase_id: '362pq2sy9ll',
      },
      {
        id: '3ur6cry7r7x',
        definition_id: 'rUqQv3Xd',
        name: 'Solar Workflow',
        status: 'STARTED',
        task_id: '7olrwq658ne',
        task_name: 'Conclusions',
        task_execution_type: 'MANUAL',
      },
    ],
    V_opYKRV: [
      {
        id: 'opse3yk2tit',
        definition_id: 'V_opYKRV',
        name: 'Wallbox Workflow',
        status: 'STARTED',
        task_id: 'rdaq2e48y00',
        task_execution_type: 'MANUAL',
      },
    ],
    primary: {
      id: '85mk9wzyp98',
      definition_id: 'rUqQv3Xd',
      name: 'Solar Workflow',
      status: 'STARTED',
      task_id: '8tpx9mi4ryb',
      task_name: 'Clean Energy',
      task_execution_type: 'AUTOMATION',
    },
  },
};

function summary(overrides: Record<string, unknown>) {
  return { id: 'wf-1', status: 'STARTED', task_id: 'task-1', task_execution_type: 'AUTOMATION', ...overrides };
}

describe('detectAutomationTasks', () => {
  it('finds the one AUTOMATION task of the guide’s example entity, once although `primary` repeats it', () => {
    expect(detectAutomationTasks(guideEntity)).toEqual([
      { workflowExecutionId: '85mk9wzyp98', taskId: '8tpx9mi4ryb', entityId: '11111111-1111-1111-1111-111111111111' },
    ]);
  });

  it('finds a task that only `primary` shows', () => {
    const entity: SearchedEntity = { _id: 'e1', workflows: { primary: summary({ id: 'wf-9', task_id: 't-9' }) } };

    expect(detectAutomationTasks(entity)).toEqual([{ workflowExecutionId: 'wf-9', taskId: 't-9', entityId: 'e1' }]);
  });

  it('finds automation tasks of several workflows of the same entity', () => {
    const entity: SearchedEntity = {
      _id: 'e1',
      workflows: {
        defA: [summary({ id: 'wf-a', task_id: 't-a' }), summary({ id: 'wf-b', task_id: 't-b' })],
        defB: [summary({ id: 'wf-c', task_id: 't-c' })],
      },
    };

    expect(detectAutomationTasks(entity).map((task) => task.workflowExecutionId)).toEqual(['wf-a', 'wf-b', 'wf-c']);
  });

  it.each([
    ['a DONE workflow', { status: 'DONE' }],
    ['a CLOSED workflow', { status: 'CLOSED' }],
    ['a workflow without status', { status: undefined }],
    ['a MANUAL task', { task_execution_type: 'MANUAL' }],
    ['a task without execution type', { task_execution_type: undefined }],
    ['a summary without task id', { task_id: undefined }],
    ['a summary with an empty task id', { task_id: '' }],
  ])('ignores %s', (_case, overrides) => {
    const entity: SearchedEntity = { _id: 'e1', workflows: { def: [summary(overrides)] } };

    expect(detectAutomationTasks(entity)).toEqual([]);
  });

  it('tolerates junk entries and still finds the valid ones', () => {
    const entity: SearchedEntity = {
      _id: 'e1',
      workflows: {
        nothing: null,
        text: 'not a workflow',
        number: 42,
        emptyList: [],
        mixed: [null, 7, 'x', {}, { id: '' }, { status: 'STARTED' }, summary({ id: 'wf-ok', task_id: 't-ok' })],
        primary: { unexpected: true },
      },
    };

    expect(detectAutomationTasks(entity)).toEqual([{ workflowExecutionId: 'wf-ok', taskId: 't-ok', entityId: 'e1' }]);
  });

  it.each([
    ['no workflows', { _id: 'e1' }],
    ['workflows: null', { _id: 'e1', workflows: null }],
    ['an empty workflows object', { _id: 'e1', workflows: {} }],
  ])('returns nothing for an entity with %s', (_case, entity) => {
    expect(detectAutomationTasks(entity as SearchedEntity)).toEqual([]);
  });
});
