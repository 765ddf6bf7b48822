import { Console } from 'node:console';
import { Logger } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions } from '@aws-lambda-powertools/logger/types';
import { SERVICE_NAME } from '../../lambdas/shared/logger';

/**
 * Powertools' JSON logger, writing every level to stderr: on the command line stdout carries the progress, the
 * result table or the `--json` summary, and must stay parseable.
 */
export class StderrLogger extends Logger {
  constructor(options: ConstructorOptions = {}) {
    super({ serviceName: SERVICE_NAME, ...options });
    // Powertools builds its own Console over stdout; there is no option to choose the stream.
    (this as unknown as { console: Console }).console = new Console({ stdout: process.stderr, stderr: process.stderr });
  }

  protected override createLogger(options?: ConstructorOptions): Logger {
    return new StderrLogger(options);
  }
}
