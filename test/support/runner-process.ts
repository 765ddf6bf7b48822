/**
 * A local runner in a child process of its own (scripts/soak-runner.ts under tsx), so tests and the soak can kill
 * it for real — SIGKILL leaves the LevelDB files and the pid lock as a crash would — and start it again.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import type { SoakRunnerConfig } from '../../scripts/soak-shared';

const RUNNER_SCRIPT = path.join(__dirname, '..', '..', 'scripts', 'soak-runner.ts');

export interface RunnerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunnerProcess {
  child: ChildProcess;
  /** True once the child's LocalRunner is up; false if it exited first. */
  ready: Promise<boolean>;
  exited: Promise<RunnerExit>;
  /** Its stdout lines, and its stderr prefixed `stderr: `, for failure messages. */
  lines: string[];
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<RunnerExit>;
}

/** Starts a runner process sweeping with `config`; it exits 0 when it ran out of work, or after `maxSweeps`. */
export function startRunnerProcess(config: SoakRunnerConfig, token: string): RunnerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', RUNNER_SCRIPT, JSON.stringify(config)], {
    env: { ...process.env, SOAK_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buffered = '';
  let markReady: (ready: boolean) => void = () => undefined;
  const ready = new Promise<boolean>((resolve) => (markReady = resolve));
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      lines.push(line);
      if (line.includes('"event":"ready"')) markReady(true);
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => lines.push(`stderr: ${chunk.trimEnd()}`));
  const exited = new Promise<RunnerExit>((resolve) =>
    child.once('exit', (code, signal) => {
      markReady(false);
      resolve({ code, signal });
    }),
  );
  const kill = async () => {
    child.kill('SIGKILL');
    return exited;
  };
  return { child, ready, exited, lines, kill };
}
