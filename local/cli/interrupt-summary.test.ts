import { interruptSummary } from './run';

describe('interruptSummary', () => {
  it('lists each task left running with its run id, then how the next sweep in that state dir finishes them', () => {
    const summary = interruptSummary(
      'SIGINT',
      {
        notStarted: [{ workflowExecutionId: 'wf-3', taskId: 't-3' }],
        leftRunning: [
          { workflowExecutionId: 'wf-1', taskId: 't-1', runId: 'run-1', stage: 'running' },
          { workflowExecutionId: 'wf-2', taskId: 't-2', runId: undefined, stage: 'start-sent' },
          { workflowExecutionId: 'wf-4', taskId: 't-4', runId: 'run-4', stage: 'patching' },
        ],
        callsInFlight: 0,
      },
      '.epilot-task-runner',
    );

    expect(summary.split('\n')).toEqual([
      'interrupted (SIGINT): 1 task not started (no claim kept), 3 tasks left running:',
      '  wf-1/t-1: run run-1 going on in epilot',
      '  wf-2/t-2: start sent, run id not known yet',
      '  wf-4/t-4: run run-4 ended, step patch pending',
      'the next sweep with --state-dir .epilot-task-runner takes these over at once (this process is gone),',
      'follows each run to its end and patches its step.',
    ]);
  });

  it('says none is left running when nothing started, and counts calls still unanswered', () => {
    const summary = interruptSummary(
      'SIGTERM',
      { notStarted: [{ workflowExecutionId: 'wf-1', taskId: 't-1' }], leftRunning: [], callsInFlight: 2 },
      'state',
    );

    expect(summary.split('\n')).toEqual([
      'interrupted (SIGTERM): 1 task not started (no claim kept), none left running.',
      'the next sweep with --state-dir state starts them.',
      '2 call(s) to epilot were still unanswered when the runner stopped.',
    ]);
  });
});
