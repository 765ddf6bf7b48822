import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lockHolder, processIsRunning } from '../emulator/state-dir-lock';
import { UsageError } from './options';

/** Copies taken before one is kept unchanged: each failed one means a process opened the directory meanwhile. */
const SNAPSHOT_ATTEMPTS = 3;

export interface StateDirSnapshot {
  /** A private copy of the state dir, opened by nobody else. */
  directory: string;
  /** Deletes the copy (never the state dir). Idempotent. */
  remove(): void;
}

/**
 * A private copy of a state dir's files, for reading its records without opening the directory itself. Opening it
 * takes its lock, and would turn away a sweep or serve started meanwhile: a dry run must never stand in the way of
 * the real thing, so it takes no lock at all. The copy is sound because it is taken only while no live process
 * holds the lock (nobody writes), and kept only if no file of the directory changed while it was copied (else a
 * process opened it meanwhile, and the copy is taken again).
 *
 * A directory a live process holds is refused in one line: LevelDB files copied while they are written need not be
 * any state the store was ever in. A lock left by a dead process is copied with the rest, so opening the copy
 * takes it over and repairs the copy's indexes as the next sweep will repair the directory's.
 *
 * Undefined when the directory does not exist: no sweep has run with it, so there are no records.
 */
export function snapshotStateDir(directory: string): StateDirSnapshot | undefined {
  if (!fs.existsSync(directory)) return undefined;
  if (!fs.statSync(directory).isDirectory())
    throw new UsageError(`--state-dir ${directory} is not a folder: name the folder sweeps keep their records in`);
  for (let attempt = 1; attempt <= SNAPSHOT_ATTEMPTS; attempt++) {
    refuseIfHeld(directory);
    const before = fingerprint(directory);
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'epilot-task-runner-dry-run-'));
    const remove = () => fs.rmSync(copy, { recursive: true, force: true });
    try {
      fs.cpSync(directory, copy, { recursive: true });
    } catch (error) {
      remove();
      // A file gone while copying: a process that opened the directory meanwhile compacted it. Anything else is real.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    if (fingerprint(directory) === before) return { directory: copy, remove };
    remove();
  }
  refuseIfHeld(directory);
  throw new UsageError(
    `--state-dir ${directory} kept changing while it was read (a sweep or serve starting and stopping?): run the dry run again`,
  );
}

function refuseIfHeld(directory: string): void {
  const owner = lockHolder(directory);
  if (owner === undefined || !processIsRunning(owner)) return;
  throw new UsageError(
    `--state-dir ${directory} is in use by pid ${owner} (a sweep or serve): a dry run reads the records only while no ` +
      'process has them open, and never takes them from one; run it again when that one ends',
  );
}

/** Every file's name, size and modification time: equal before and after a copy means nothing wrote meanwhile. */
function fingerprint(directory: string): string {
  const entries = fs.readdirSync(directory, { recursive: true, encoding: 'utf8' }).sort();
  return JSON.stringify(
    entries.map((entry) => {
      try {
        const stat = fs.lstatSync(path.join(directory, entry));
        return [entry, stat.size, stat.mtimeMs];
      } catch {
        return [entry, 'gone'];
      }
    }),
  );
}
