/**
 * The command line as a user runs it: `cli/epilot-task-runner.cjs` in a child process, once to its end (`runCli`)
 * or left running (`startCli`, for `simulate` and `serve`) until the test signals it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const CLI = path.join(__dirname, '..', '..', 'cli', 'epilot-task-runner.cjs');
const execFileAsync = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** No Powertools log level from the test environment: the command's own `--log-level` default applies. */
const cliEnv = (env: Record<string, string>) => ({ ...process.env, ...env, POWERTOOLS_LOG_LEVEL: '' });

export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [CLI, ...args], { env: cliEnv(env), timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

export interface RunningCli {
  child: ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  stderr(): string;
  /** The first stdout line matching `pattern` (waiting for it); rejects if the process exits first. */
  line(pattern: RegExp): Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startCli(args: string[], env: Record<string, string> = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let errors = '';
  let partial = '';
  const waiting = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const complete = partial.split('\n');
    partial = complete.pop() ?? '';
    lines.push(...complete);
    for (const check of waiting) check();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
      for (const check of waiting) check();
    }),
  );
  let ended = false;
  void exited.then(() => (ended = true));
  const line = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        for (const text of lines) {
          const match = pattern.exec(text);
          if (match) {
            waiting.delete(check);
            resolve(match);
            return;
          }
        }
        if (ended || child.exitCode !== null) {
          waiting.delete(check);
          reject(new Error(`exited without a line matching ${String(pattern)}:\n${lines.join('\n')}\n${errors}`));
        }
      };
      waiting.add(check);
      check();
    });
  return { child, lines, stderr: () => errors, line, exited };
}

/** The lines on stderr that are the CLI's own (Node's warnings, such as the AWS SDK's Node version notice, are not). */
export const ownLines = (stderr: string): string[] =>
  stderr.split('\n').filter((line) => line.startsWith('epilot-task-runner:') || line.startsWith('error:'));

/** A function making fresh temporary folders, all removed after the test file's tests. Call it at the file's top. */
export function temporaryFolders(): (prefix: string) => string {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });
  return (prefix) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}

/** A port nothing listens on right now (the system's pick, released again). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
