import '../emulator/polyfills';
import { Command } from 'commander';
import { version } from '../../package.json';
import {
  describeError,
  EpilotAuthError,
  EpilotPermanentError,
  EpilotRateLimitedError,
  EpilotTransientError,
} from '../../lambdas/shared/errors';
import { StateDirError } from '../emulator/embedded-dynamodb';
import { addDemoCommand } from './commands/demo';
import { addDeliverCommand } from './commands/deliver';
import { addServeCommand } from './commands/serve';
import { addSimulateCommand } from './commands/simulate';
import { addSweepCommand } from './commands/sweep';
import { EXIT_CODES_HELP, UsageError } from './options';
import { Interrupted, SweepFailed } from './run';

function buildProgram(): Command {
  const program = new Command()
    .name('epilot-task-runner')
    .description('Runs epilot workflow task automations: the same state machines as on AWS, on this machine')
    .version(version, '--version', 'print the version and exit')
    .showHelpAfterError('(add --help for usage)')
    // Before the commands are added: they inherit it, so their usage errors also end in main's exit code 2.
    .exitOverride()
    .addHelpText('after', EXIT_CODES_HELP);
  addDemoCommand(program);
  addSweepCommand(program);
  addServeCommand(program);
  addSimulateCommand(program);
  addDeliverCommand(program);
  for (const command of program.commands) command.addHelpText('after', EXIT_CODES_HELP);
  return program;
}

/** One clear line for what a user can fix (options, token, reachability); a stack trace for anything else. */
export function explainFailure(error: unknown): { message: string; exitCode: number } {
  if (error instanceof UsageError) return { message: error.message, exitCode: 2 };
  if (error instanceof Interrupted) return { message: error.message, exitCode: 130 };
  if (error instanceof StateDirError) return { message: `--state-dir ${error.directory} ${error.problem}: ${error.advice}`, exitCode: 2 };
  const text = error instanceof Error ? error.message : String(error);
  if (error instanceof EpilotAuthError) {
    // The message names the refused call (never the token); what to check depends on the status.
    return error.status === 401
      ? { message: `epilot rejected the API token (401): ${text}. Check --token / $EPILOT_API_TOKEN (or the secret)`, exitCode: 1 }
      : { message: `the API token may not do this (403): ${text}. Check the token's permissions`, exitCode: 1 };
  }
  if (
    error instanceof SweepFailed ||
    error instanceof EpilotRateLimitedError ||
    error instanceof EpilotPermanentError ||
    error instanceof EpilotTransientError
  ) {
    if (text.includes('answered 401')) return { message: `epilot rejected the API token (401): ${text}`, exitCode: 1 };
    if (text.includes('answered 403')) return { message: `the API token may not do this (403): ${text}`, exitCode: 1 };
    if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|timeout/i.test(text)) {
      return { message: `the epilot API is unreachable: ${text}`, exitCode: 1 };
    }
    return { message: `the sweep failed: ${text}`, exitCode: 1 };
  }
  return { message: describeError(error), exitCode: 1 };
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram().exitOverride();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('commander.')) {
      const exitCode = (error as { exitCode?: number }).exitCode ?? 2;
      return code === 'commander.helpDisplayed' || code === 'commander.version' ? 0 : exitCode === 0 ? 0 : 2;
    }
    const { message, exitCode } = explainFailure(error);
    process.stderr.write(`epilot-task-runner: ${message}\n`);
    // The one line is for the user; where it came from is for whoever debugs the runner.
    if (debugLogging(argv) && error instanceof Error && error.stack !== undefined) process.stderr.write(`${error.stack}\n`);
    return exitCode;
  }
}

/** `--log-level DEBUG` anywhere on the command line (read from argv: the failure may come before options are parsed). */
function debugLogging(argv: readonly string[]): boolean {
  return argv.some((arg, index) => arg === '--log-level=DEBUG' || (arg === '--log-level' && argv[index + 1] === 'DEBUG'));
}

/**
 * Ends the process with `code`. Interrupted, the command has said what it left, and calls it no longer waits for (a
 * status poll) must not keep the process up: it exits once stdout and stderr are written out.
 */
export function finish(code: number): void {
  process.exitCode = code;
  if (code === 130) process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

if (require.main === module) void main(process.argv).then(finish);
