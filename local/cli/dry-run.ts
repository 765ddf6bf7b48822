import { decideTask } from '../../lambdas/find-task/find-task';
import { detectAutomationTasks } from '../../lambdas/shared/domain/detection';
import type { EntityApi, SearchCursor } from '../../lambdas/shared/epilot/entity-api';
import type { RunnerSettings } from '../../lambdas/shared/config/settings';
import type { WorkflowEngine } from '../../lambdas/shared/domain/workflow-engine';
import type { Clock } from '../../lambdas/shared/clock';
import { formatTable } from './report';
import { withStackRetries } from './stack-retry';

/**
 * What a sweep would do, without doing any of it: the same search and detection, then a fresh read of each
 * workflow and the same decision Find task makes. Nothing is started, claimed or patched.
 */
export async function dryRunSweep(
  apis: { entities: EntityApi; workflows: WorkflowEngine },
  settings: RunnerSettings,
  output: { json: boolean; out: NodeJS.WritableStream },
  clock: Clock,
): Promise<void> {
  const tasks: Array<{
    entityId: string;
    workflowExecutionId: string;
    taskId: string;
    wouldRun: boolean;
    reason: string;
    flowId?: string;
  }> = [];
  let cursor: SearchCursor | undefined;
  let seen = 0;
  let pages = 0;
  do {
    const after = cursor;
    // Every call retried as the deployed states retry it: one 5xx must not end a dry run that a sweep would survive.
    const page = await withStackRetries(clock, () =>
      apis.entities.searchPage({ q: settings.searchQuery, size: settings.searchPageSize, after, seen }),
    );
    pages += 1;
    seen += page.entities.length;
    cursor = page.next;
    for (const candidate of page.entities.flatMap(detectAutomationTasks)) {
      const execution = await withStackRetries(clock, () => apis.workflows.loadTask(candidate.workflowExecutionId, candidate.taskId));
      const decision = decideTask({ ...candidate, trigger: 'dry-run', execution });
      const existingRun = execution.task?.runId;
      tasks.push({
        ...candidate,
        wouldRun: decision.action === 'run',
        reason:
          decision.action === 'run'
            ? existingRun
              ? `would adopt run ${existingRun}`
              : `would start flow ${decision.flowId}`
            : decision.reason,
        ...(decision.action === 'run' ? { flowId: decision.flowId } : {}),
      });
    }
  } while (cursor !== undefined);

  if (output.json) {
    output.out.write(`${JSON.stringify({ dryRun: true, pages, entities: seen, tasks }, null, 2)}\n`);
    return;
  }
  const rows = tasks.map((task) => [task.entityId, task.workflowExecutionId, task.taskId, task.wouldRun ? 'yes' : 'no', task.reason]);
  output.out.write(
    `${rows.length ? formatTable(['entity', 'workflow', 'task', 'run?', 'why'], rows) : 'No automation tasks found.'}\n` +
      `${seen} entities in ${pages} page(s); dry run: nothing was started or changed.\n`,
  );
}
