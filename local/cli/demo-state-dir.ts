import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UsageError } from './options';

/**
 * The file the demo writes into every state dir it creates. The demo starts each run from empty records (its
 * simulated organisation is new every time), so it empties its state dir; the marker is the proof that the folder
 * and everything in it are the demo's own, so a mistyped `--state-dir .` can never erase a user's files.
 */
export const DEMO_MARKER = '.epilot-task-runner-demo';

const MARKER_TEXT = 'Created by `epilot-task-runner demo`: the demo may empty this folder when it is named as --state-dir again.\n';

export interface DemoStateDir {
  dir: string;
  /** Removes a folder the demo made for this run only; a named `--state-dir` is kept for the user to look at. */
  dispose(): void;
}

/**
 * Without `requested`: a new folder under the system's temp dir, removed afterwards. With it: a folder that does not
 * exist yet or is empty (created and marked), or one the demo marked earlier (emptied). Anything else is refused.
 */
export function prepareDemoStateDir(requested: string | undefined): DemoStateDir {
  if (requested === undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'epilot-task-runner-demo-'));
    fs.writeFileSync(path.join(dir, DEMO_MARKER), MARKER_TEXT);
    return { dir, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
  const refuse = (why: string) =>
    new UsageError(`--state-dir ${requested} ${why}: name a new or empty folder, or leave --state-dir out for a temporary one`);
  let entries: string[] | undefined;
  try {
    entries = fs.readdirSync(requested);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw refuse('is a file, not a folder');
    if (code !== 'ENOENT') throw refuse(`cannot be read (${code ?? String(error)})`);
  }
  if (entries !== undefined && entries.length > 0 && !entries.includes(DEMO_MARKER)) {
    throw refuse(`is not a folder the demo made (no ${DEMO_MARKER} in it) and the demo empties its state dir`);
  }
  try {
    // Only the demo's own folder gets here with contents: its records of an earlier, now gone, simulated organisation.
    for (const entry of entries ?? []) fs.rmSync(path.join(requested, entry), { recursive: true, force: true });
    fs.mkdirSync(requested, { recursive: true });
    fs.writeFileSync(path.join(requested, DEMO_MARKER), MARKER_TEXT);
  } catch (error) {
    throw refuse(`cannot be prepared (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  return { dir: requested, dispose: () => undefined };
}
