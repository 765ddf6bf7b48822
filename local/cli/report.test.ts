import type { TaskInput } from '../../lambdas/shared/domain/task-state';
import { formatTable, ProgressView, wrap } from './report';

describe('formatTable', () => {
  it('narrows the widest columns to fit maxWidth and wraps their cells onto more lines of the same row', () => {
    const reason = 'skipped: the step is no longer an automation task because its workflow was changed by hand';

    const table = formatTable(['workflow', 'task', 'outcome'], [['wf-1', 'task-1', reason]], 40);

    const lines = table.split('\n');
    expect(lines.every((line) => line.length <= 40)).toBe(true);
    expect(lines[0]).toMatch(/^workflow {2}task {4}outcome$/);
    expect(
      lines
        .slice(2)
        .map((line) => line.slice(18).trim())
        .join(' '),
    ).toBe(reason);
    expect(lines[2]).toMatch(/^wf-1 {6}task-1 {2}\S/);
  });

  it('leaves a table that fits as it is, without maxWidth too', () => {
    const rows = [['a', 'bb']];

    expect(formatTable(['x', 'y'], rows, 100)).toBe(formatTable(['x', 'y'], rows));
    expect(formatTable(['x', 'y'], rows)).toBe('x  y\n─  ──\na  bb');
  });
});

describe('wrap', () => {
  it('breaks at spaces, and inside a word longer than the width', () => {
    expect(wrap('one two three', 7)).toEqual(['one two', 'three']);
    expect(wrap('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
  });
});

describe('ProgressView on a terminal', () => {
  const input = (taskId: string) => ({ workflowExecutionId: 'wf', taskId, entityId: 'e', trigger: 'sweep' }) as TaskInput;

  it('never moves the cursor above the lines of the sweep in progress, so an earlier sweep’s table stays', () => {
    const written: string[] = [];
    const out = { isTTY: true, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream;
    const view = new ProgressView(out);
    for (const taskId of ['a', 'b', 'c']) view.update({ executionName: taskId, input: input(taskId), stateName: 'Start automation' });
    view.finish();
    written.length = 0;

    view.update({ executionName: 'd', input: input('d'), stateName: 'Fetch execution' });
    view.update({ executionName: 'd', input: input('d'), stateName: 'Find task' });

    const escape = String.fromCharCode(27);
    const cursorUps = written
      .join('')
      .split(escape)
      .filter((sequence) => /^\[\d+A/.test(sequence));
    expect(cursorUps).toEqual(['[1A']);
  });
});
