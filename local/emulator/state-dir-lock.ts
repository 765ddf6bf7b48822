import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The lock a process keeps in a state dir while it has the embedded DynamoDB open: a file holding its pid. Its own
 * module (no dynalite, no AWS SDK), so the dry run and the local runner's owner checks can read it cheaply.
 */
export const STATE_DIR_LOCK_FILE = 'embedded-dynamodb.lock';

/** The pid the state dir's lock file names, if there is one naming a pid. */
export function lockHolder(directory: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(directory, STATE_DIR_LOCK_FILE), 'utf8'));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid runs; one of another user (EPERM) counts as running. */
export function processIsRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
