import { Console } from 'node:console';
import { Logger } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions } from '@aws-lambda-powertools/logger/types';
import { SERVICE_NAME } from '../../lambdas/shared/logger';

/** Powertools' JSON logger writing every level, its children's too, to one stream. */
export class StreamLogger extends Logger {
  constructor(
    private readonly stream: NodeJS.WritableStream,
    options: ConstructorOptions = {},
  ) {
    super({ serviceName: SERVICE_NAME, ...options });
    // Powertools builds its own Console over stdout; there is no option to choose the stream.
    (this as unknown as { console: Console }).console = new Console({ stdout: stream, stderr: stream });
  }

  protected override createLogger(options?: ConstructorOptions): Logger {
    return new StreamLogger(this.stream, options);
  }
}

/**
 * On the command line stdout carries the progress, the result table or the `--json` summary, and must stay
 * parseable: the logs go to stderr.
 */
export class StderrLogger extends StreamLogger {
  constructor(options: ConstructorOptions = {}) {
    super(process.stderr, options);
  }
}
