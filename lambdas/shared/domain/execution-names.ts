import { createHash } from 'node:crypto';

const MAX_NAME_LENGTH = 80;

/**
 * `<workflowExecutionId>-<taskId>-<attempt>`: readable in the console, unique per attempt (Step Functions keeps a
 * Standard execution's name taken for 90 days after it ends, so a retry needs a new attempt number). Characters
 * outside `[A-Za-z0-9_]` become `_`; ids too long for 80 characters are shortened and made unique with a hash.
 */
export function taskExecutionName(workflowExecutionId: string, taskId: string, attempt: number | string): string {
  const suffix = `-${attempt}`;
  const full = `${sanitize(workflowExecutionId)}-${sanitize(taskId)}`;
  if (full.length + suffix.length <= MAX_NAME_LENGTH) return `${full}${suffix}`;
  const hash = createHash('sha256').update(`${workflowExecutionId}\u0000${taskId}`).digest('hex').slice(0, 10);
  const room = MAX_NAME_LENGTH - suffix.length - hash.length - 2;
  const half = Math.floor(room / 2);
  return `${sanitize(workflowExecutionId).slice(0, half)}-${sanitize(taskId).slice(0, room - half)}-${hash}${suffix}`;
}

function sanitize(id: string): string {
  return id.replace(/[^A-Za-z0-9_]/g, '_');
}
