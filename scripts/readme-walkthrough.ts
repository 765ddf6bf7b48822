/**
 * `npm run readme`: runs the README's laptop sections word for word, as a new user would, and fails on the first
 * command that does not do what the README says. CI runs it after the tests.
 *
 *   "Try it (no AWS account needed)"   `npm start`
 *   "Try `sweep`, `serve` and webhooks on the simulator"   every `export` and `npx epilot-task-runner …` line of its
 *   sh blocks, in order: `simulate` and `serve` started in the background until they say they are ready, the
 *   simulator restarted before `serve` (as the README says), each other command run to its end (exit 0), and the
 *   `deliver` answers checked: 202 accepted, then 200 duplicate for the same delivery, then the task's end line.
 *
 * `npm ci`/`npm test` of the first section are CI's own steps; "Try it against your epilot organisation" needs an
 * organisation. The folders the README names under /tmp are emptied first, so every run starts as a new user's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const COMMAND_TIMEOUT_MS = 180_000;

interface Line {
  /** `export`: environment for every later command. */
  env?: Record<string, string>;
  /** `npx epilot-task-runner …` or `npm start`, as words. */
  argv?: string[];
  text: string;
}

/** The sh blocks of one README section (from its heading to the next `## `), as commands. */
function sectionCommands(readme: string, heading: string): Line[][] {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no section "${heading}"`);
  const end = readme.indexOf('\n## ', start + heading.length + 2);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
  return blocks.map((block) =>
    block
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .map((line) => line.replace(/\s+#.*$/, '').trim())
      .filter((line) => line !== '')
      .map(parseLine),
  );
}

function parseLine(text: string): Line {
  const words = shellWords(text);
  if (words[0] === 'export') {
    const env: Record<string, string> = {};
    for (const assignment of words.slice(1)) {
      const [key, ...value] = assignment.split('=');
      if (!key || value.length === 0) throw new Error(`README: cannot read "${text}"`);
      env[key] = value.join('=');
    }
    return { env, text };
  }
  return { argv: words, text };
}

/** Words as sh splits them, for the quoting the README uses (single quotes, no expansions but `$VAR` left alone). */
function shellWords(text: string): string[] {
  const words: string[] = [];
  for (const match of text.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) words.push(match[1] ?? match[2] ?? match[3] ?? '');
  return words;
}

interface Background {
  child: ChildProcess;
  output: () => string;
  /** The exit code, or the signal npx re-raises on itself after its command ended on it. */
  exited: Promise<number | NodeJS.Signals | null>;
}

function run(argv: string[], env: NodeJS.ProcessEnv): Background {
  const [command = '', ...args] = argv;
  // A process group of its own, so Ctrl-C reaches npx and the command it runs, as in a terminal.
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  return { child, output: () => output, exited };
}

async function until(what: string, process: Background, pattern: RegExp, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(process.output())) {
    if (process.child.exitCode !== null)
      throw new Error(`${what} exited ${process.child.exitCode} before ${pattern}:\n${process.output()}`);
    if (Date.now() > deadline) throw new Error(`${what}: no ${pattern} within ${timeoutMs / 1000} s:\n${process.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Ctrl-C, as in a terminal: the command stops and says so (npx then ends on the same signal). */
async function stop(what: string, process: Background, said: RegExp): Promise<void> {
  signalGroup(process, 'SIGINT');
  const code = await process.exited;
  if ((code !== 0 && code !== 'SIGINT') || !said.test(process.output())) {
    throw new Error(`${what} did not stop cleanly on Ctrl-C (${String(code)}):\n${process.output()}`);
  }
}

function signalGroup(process: Background, signal: NodeJS.Signals): void {
  if (process.child.pid === undefined || process.child.exitCode !== null || process.child.signalCode !== null) return;
  try {
    globalThis.process.kill(-process.child.pid, signal);
  } catch (error) {
    // The group ended meanwhile.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function runToEnd(line: Line, env: NodeJS.ProcessEnv): Promise<string> {
  const started = Date.now();
  const process = run(line.argv ?? [], env);
  const timer = setTimeout(() => signalGroup(process, 'SIGKILL'), COMMAND_TIMEOUT_MS);
  const code = await process.exited;
  clearTimeout(timer);
  say(`  exit ${String(code)} after ${Math.round((Date.now() - started) / 100) / 10} s`);
  if (code !== 0) throw new Error(`"${line.text}" exited ${String(code)}:\n${process.output()}`);
  return process.output();
}

const say = (text: string) => process.stdout.write(`${text}\n`);

async function main(): Promise<void> {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.EPILOT_API_TOKEN;
  delete env.EPILOT_WEBHOOK_SECRET;

  const [tryIt] = sectionCommands(readme, '## Try it (no AWS account needed)');
  const start = tryIt?.find((line) => line.text === 'npm start');
  if (!start) throw new Error('README "Try it": no `npm start`');
  say(`$ ${start.text}`);
  const demo = await runToEnd(start, env);
  if (!/succeeded|COMPLETED/.test(demo)) throw new Error(`npm start printed no finished task:\n${demo}`);

  const blocks = sectionCommands(readme, '## Try `sweep`, `serve` and webhooks on the simulator');
  for (const dir of readme.match(/\/tmp\/epilot-task-runner-[\w-]+/g) ?? []) fs.rmSync(dir, { recursive: true, force: true });
  let simulator: Background | undefined;
  let server: Background | undefined;
  let deliveries = 0;
  try {
    for (const block of blocks) {
      for (const line of block) {
        say(`$ ${line.text}`);
        if (line.env) {
          Object.assign(env, line.env);
          continue;
        }
        const [, , command] = line.argv ?? [];
        if (command === 'simulate') {
          simulator = run(line.argv ?? [], env);
          await until('simulate', simulator, /base URL:\s+http:\/\/127\.0\.0\.1:4010/);
        } else if (command === 'serve') {
          // "restart `simulate` in the first terminal (every start is a fresh organisation…)"
          if (simulator) await stop('simulate', simulator, /stopped/);
          say('  (simulate restarted, as the README says)');
          simulator = run(['npx', 'epilot-task-runner', 'simulate'], env);
          await until('simulate', simulator, /base URL:/);
          server = run(line.argv ?? [], env);
          await until('serve', server, /listening for epilot webhooks/);
        } else if (command === 'deliver') {
          const first = await runToEnd(line, env);
          if (!/^202 Accepted/m.test(first) || !first.includes('"status":"accepted"'))
            throw new Error(`deliver: not 202 accepted:\n${first}`);
          const again = await runToEnd(line, env);
          if (!/^200 /m.test(again) || !again.includes('"status":"duplicate"'))
            throw new Error(`deliver again: not 200 duplicate:\n${again}`);
          deliveries++;
          if (server) await until('serve', server, /task execution \S+: automation \w+/, 120_000);
        } else {
          await runToEnd(line, env);
        }
      }
    }
    if (!simulator || !server || deliveries === 0) throw new Error('README simulator section: simulate, serve or deliver is missing');
    await stop('serve', server, /SIGINT: no new deliveries/);
    server = undefined;
    await stop('simulate', simulator, /stopped/);
    simulator = undefined;
    say('README walkthrough: every command did what the README says');
  } finally {
    if (server) signalGroup(server, 'SIGKILL');
    if (simulator) signalGroup(simulator, 'SIGKILL');
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`readme walkthrough: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
