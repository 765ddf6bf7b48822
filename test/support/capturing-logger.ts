import { Writable } from 'node:stream';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions } from '@aws-lambda-powertools/logger/types';
import { StreamLogger } from '../../local/cli/stderr-logger';

/** Powertools' logger (children included) with every line kept in `sink`, exactly as it would be printed. */
export function capturingLogger(sink: string[], options: ConstructorOptions = {}): Logger {
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      sink.push(String(chunk));
      done();
    },
  });
  return new StreamLogger(stream, options);
}

/** The JSON log lines written to `sink`. */
export function logLines(sink: string[]): Array<Record<string, unknown>> {
  return sink
    .join('')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
