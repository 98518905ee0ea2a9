import { pino, type Logger } from 'pino';

/** The gateway's structured JSON logger. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'nexus-gateway' } });
}

export type { Logger };
