import { Kafka, logLevel as KafkaJsLevel } from 'kafkajs';
import { correctKafkaJsRequestQueue } from './kafkajs-request-queue.ts';
import type { logCreator } from 'kafkajs';

/** How much kafkajs and the Kafka adapters log. */
export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

/** Where log lines go: `namespace` names the kafkajs component (or the adapter, e.g. `KafkaBus`). */
export type KafkaLogSink = (level: Exclude<KafkaLogLevel, 'nothing'>, namespace: string, message: string, extra: Record<string, unknown>) => void;

/** Options of a kafkajs client as this project configures it. */
export interface KafkaClientOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: readonly string[];
  /** Client id the brokers see (quotas, request logs). */
  clientId: string;
  /** Budget of one request to a broker. */
  requestTimeoutMs: number;
  /** kafkajs and adapter log level. Default `'warn'`. */
  logLevel?: KafkaLogLevel | undefined;
  /** Log sink. Default: one JSON line per entry on stderr. */
  log?: KafkaLogSink | undefined;
}

/** A kafkajs client, and the log its adapter writes to (filtered to the same level as kafkajs's). */
export interface KafkaClient {
  kafka: Kafka;
  log: KafkaLogSink;
}

const LEVELS: Record<KafkaLogLevel, number> = { nothing: 0, error: 1, warn: 2, info: 4, debug: 5 };

/**
 * The kafkajs client every Kafka adapter (the bus, the medallion's group source) builds: the one
 * place kafkajs's logs are routed, so what reaches the log is decided here once.
 */
export function createKafkaClient(options: KafkaClientOptions): KafkaClient {
  const level = options.logLevel ?? 'warn';
  const threshold = LEVELS[level];
  const sink = options.log ?? stderrSink;
  const log: KafkaLogSink = (entryLevel, namespace, message, extra) => {
    if (LEVELS[entryLevel] <= threshold) sink(entryLevel, namespace, message, extra);
  };
  // kafkajs 2.2.4 re-arms a negative timer after every response (see kafkajs-request-queue.ts).
  correctKafkaJsRequestQueue();
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    requestTimeout: options.requestTimeoutMs,
    logLevel: toKafkaJsLevel(level),
    logCreator: kafkaJsLogCreator(log),
  });
  return { kafka, log };
}

/** kafkajs's level for ours. */
function toKafkaJsLevel(level: KafkaLogLevel): KafkaJsLevel {
  switch (level) {
    case 'nothing':
      return KafkaJsLevel.NOTHING;
    case 'error':
      return KafkaJsLevel.ERROR;
    case 'warn':
      return KafkaJsLevel.WARN;
    case 'info':
      return KafkaJsLevel.INFO;
    case 'debug':
      return KafkaJsLevel.DEBUG;
  }
}

/** Routes kafkajs's log entries to the sink. */
function kafkaJsLogCreator(log: KafkaLogSink): logCreator {
  return () =>
    ({ namespace, level, log: entry }) => {
      const { message, ...extra } = entry;
      const name = level === KafkaJsLevel.ERROR ? 'error' : level === KafkaJsLevel.WARN ? 'warn' : level === KafkaJsLevel.INFO ? 'info' : 'debug';
      log(name, namespace || 'kafkajs', message, extra);
    };
}

function stderrSink(level: string, namespace: string, message: string, extra: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), logger: `kafka:${namespace}`, message, ...extra })}\n`);
}

/** An error's message, for a log line's `error` field. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
