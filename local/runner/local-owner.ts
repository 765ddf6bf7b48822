import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { processIsRunning } from '../emulator/state-dir-lock';

/**
 * Who holds a task record locally. On AWS a record's owner is the Step Functions execution ARN, and only its lease
 * says whether that execution may still be at work. Locally the owner also names the process and the runner in it
 * (`local:<host>:<pid>:<process start ms>:<runner>:<execution name>`), so a later runner on this machine can tell a
 * claim whose process is gone (Ctrl-C, a crash, a closed terminal) and need not wait out its lease.
 */
export interface LocalOwner {
  host: string;
  pid: number;
  /** When the process started (epoch ms): a pid the system gave to a newer process is not the owner's. */
  processStartedAt: number;
  /** Which runner in the process: a process may start runners one after another (tests, the demo). */
  runner: number;
}

const PREFIX = 'local';

/** Runners of this process that have started and not stopped. */
const liveRunners = new Set<number>();
let lastRunner = 0;

const thisProcess = { host: os.hostname(), pid: process.pid, processStartedAt: Math.round(performance.timeOrigin) };

/** A new runner of this process, live until `end()`; `owner(name)` is the owner its execution `name` writes. */
export function registerLocalRunner(): { owner: (executionName: string) => string; end: () => void } {
  lastRunner += 1;
  const runner = lastRunner;
  liveRunners.add(runner);
  const prefix = [PREFIX, encodeURIComponent(thisProcess.host), thisProcess.pid, thisProcess.processStartedAt, runner].join(':');
  return { owner: (executionName) => `${prefix}:${executionName}`, end: () => liveRunners.delete(runner) };
}

/** The local runner an owner names, or undefined for any other owner (an execution ARN of the deployed stack). */
export function parseLocalOwner(owner: string): LocalOwner | undefined {
  const [prefix, host, pid, processStartedAt, runner] = owner.split(':');
  if (prefix !== PREFIX || host === undefined) return undefined;
  const numbers = [pid, processStartedAt, runner].map(Number);
  if (!numbers.every((value) => Number.isSafeInteger(value) && value > 0)) return undefined;
  const [pidNumber = 0, startedAt = 0, runnerNumber = 0] = numbers;
  return { host: decodeURIComponent(host), pid: pidNumber, processStartedAt: startedAt, runner: runnerNumber };
}

/** How far a process's start time as the system tells it may be from the one its owner names and still be it. */
const START_TIME_TOLERANCE_MS = 5_000;

/**
 * Whether the owner is a local runner on this machine that is certainly at work no more: its process has ended (or
 * its pid now belongs to a newer process), or it is a runner of this very process that has stopped. Owners on
 * another host, or whose process cannot be told apart, count as alive: their leases are waited for, as on AWS.
 */
export function localOwnerIsGone(owner: string): boolean {
  const local = parseLocalOwner(owner);
  if (local?.host !== thisProcess.host) return false;
  if (local.pid === thisProcess.pid) {
    if (Math.abs(local.processStartedAt - thisProcess.processStartedAt) > START_TIME_TOLERANCE_MS) return true;
    return !liveRunners.has(local.runner);
  }
  if (!processIsRunning(local.pid)) return true;
  const startedAt = processStartTime(local.pid);
  return startedAt !== undefined && Math.abs(startedAt - local.processStartedAt) > START_TIME_TOLERANCE_MS;
}

/** When the process with this pid started (epoch ms), if the system says: /proc on Linux, ps elsewhere. */
function processStartTime(pid: number): number | undefined {
  try {
    if (fs.existsSync('/proc/stat')) {
      // Field 22 of /proc/<pid>/stat is the start in clock ticks after boot; the name (field 2) may hold spaces.
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
      const bootSeconds = Number(/^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1]);
      // USER_HZ is 100 on every Linux Node runs on.
      return Number.isFinite(ticks) && Number.isFinite(bootSeconds) ? bootSeconds * 1000 + ticks * 10 : undefined;
    }
    const started = Date.parse(execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', timeout: 2000 }).trim());
    return Number.isNaN(started) ? undefined : started;
  } catch {
    return undefined;
  }
}
