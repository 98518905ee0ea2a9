import { pino, type DestinationStream, type Logger } from 'pino';

/** The gateway's structured JSON logger: one JSON object per line, to stdout unless `destination` is given (tests capture it). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, base: { service: 'nexus-gateway' } };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
