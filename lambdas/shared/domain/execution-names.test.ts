import { taskExecutionName } from './execution-names';

const ALLOWED = /^[A-Za-z0-9_-]+$/;

describe('taskExecutionName', () => {
  it('is <workflowExecutionId>-<taskId>-<attempt>', () => {
    expect(taskExecutionName('85mk9wzyp98', '8tpx9mi4ryb', 1)).toBe('85mk9wzyp98-8tpx9mi4ryb-1');
    expect(taskExecutionName('85mk9wzyp98', '8tpx9mi4ryb', 12)).toBe('85mk9wzyp98-8tpx9mi4ryb-12');
  });

  it('differs per attempt, so a later sweep can retry a task whose execution name is taken', () => {
    expect(taskExecutionName('wf', 'task', 1)).not.toBe(taskExecutionName('wf', 'task', 2));
  });

  it('replaces every character outside [A-Za-z0-9_] in the ids with _', () => {
    expect(taskExecutionName('wf:1/a b', 'täsk.7', 3)).toBe('wf_1_a_b-t_sk_7-3');
  });

  it('replaces hyphens inside ids, so the separators stay unambiguous', () => {
    expect(taskExecutionName('a-b', 'c', 1)).toBe('a_b-c-1');
    expect(taskExecutionName('a-b', 'c', 1)).not.toBe(taskExecutionName('a', 'b-c', 1));
  });

  it('keeps the readable form when it fits in exactly 80 characters', () => {
    const workflowExecutionId = 'w'.repeat(40);
    const taskId = 't'.repeat(37);

    const name = taskExecutionName(workflowExecutionId, taskId, 1);

    expect(name).toBe(`${workflowExecutionId}-${taskId}-1`);
    expect(name).toHaveLength(80);
  });

  it('shortens long ids to 80 characters and keeps the attempt at the end', () => {
    const name = taskExecutionName('w'.repeat(60), 't'.repeat(60), 3);

    expect(name).toHaveLength(80);
    expect(name).toMatch(/^w+-t+-[0-9a-f]{10}-3$/);
  });

  it('keeps long ids that share their beginning apart with a hash of the full ids', () => {
    const prefix = 'x'.repeat(100);

    const first = taskExecutionName(`${prefix}-first`, 'task', 1);
    const second = taskExecutionName(`${prefix}-second`, 'task', 1);
    const third = taskExecutionName(prefix, `task-${'y'.repeat(100)}`, 1);
    const fourth = taskExecutionName(prefix, `task-${'y'.repeat(100)}z`, 1);

    expect(new Set([first, second, third, fourth]).size).toBe(4);
    expect(first.slice(0, 30)).toBe(second.slice(0, 30));
  });

  it('is deterministic, so two triggers that decide alike pick the same name', () => {
    const long = 'q'.repeat(120);

    expect(taskExecutionName(long, long, 9)).toBe(taskExecutionName(long, long, 9));
  });

  it.each([
    ['short ids', 'wf', 'task', 1],
    ['long ids', 'a'.repeat(200), 'b'.repeat(200), 1],
    ['a large attempt', 'a'.repeat(70), 'b'.repeat(70), 123_456_789],
    ['unicode and punctuation', '🙂 workflow/€#%?', 'task:{"x":1}', 2],
    ['ids of only special characters', '...', '///', 1],
    ['uuids', '9baf184f-bc81-4128-bca3-d974c90a12c4', 'd974c90a-bc81-4128-bca3-9baf184f12c4', 1],
  ])('uses only [A-Za-z0-9-_] and at most 80 characters for %s', (_case, workflowExecutionId, taskId, attempt) => {
    const name = taskExecutionName(workflowExecutionId, taskId, attempt);

    expect(name).toMatch(ALLOWED);
    expect(name.length).toBeLessThanOrEqual(80);
    expect(name.endsWith(`-${attempt}`)).toBe(true);
  });
});
