import type { KafkaLogSink } from './kafka.ts';

/** Options of {@link throttleKafkaLog}. */
export interface KafkaLogThrottleOptions {
  /** Length of a summary period, in ms. Default 60,000. */
  periodMs?: number;
  /** Distinct lines passed through per period; more are only counted in the summary. Default 20. */
  distinctPerPeriod?: number;
}

/** A log sink that repeats itself at most once a period; `flush()` writes what it held back. */
export interface ThrottledKafkaLog {
  readonly log: KafkaLogSink;
  /** Writes the summary of what was held back and stops the period timer (at close). */
  flush(): void;
}

/**
 * Keeps a dead peer from flooding the log. kafkajs logs every failed connection attempt and
 * retry of every client (producer, consumer, admin, one line each per broker), ~190 lines in the
 * ten seconds a shutdown with the brokers gone used to take. Here the first line of each kind
 * passes (a state change: the connection failed, the consumer crashed), repeats within the period
 * are counted, and at the end of the period one summary line per kind says how many there were.
 * Lines are of one kind when level, namespace and message agree once digits are ignored
 * (`Restarting the consumer in 1234ms`, retry counts, ports).
 */
export function throttleKafkaLog(sink: KafkaLogSink, options: KafkaLogThrottleOptions = {}): ThrottledKafkaLog {
  const periodMs = options.periodMs ?? 60_000;
  const distinctPerPeriod = options.distinctPerPeriod ?? 20;
  /** Kinds seen this period, with the lines held back since their first. */
  const seen = new Map<string, { level: Parameters<KafkaLogSink>[0]; namespace: string; message: string; shown: boolean; held: number }>();
  let passed = 0;
  let timer: NodeJS.Timeout | undefined;

  const summarise = (): void => {
    timer = undefined;
    for (const kind of seen.values()) {
      if (kind.held === 0) continue;
      const count = kind.shown ? `repeated ${kind.held} more times` : `${kind.held} times`;
      sink(kind.level, kind.namespace, `${kind.message} (${count} in ${Math.round(periodMs / 1000)} s)`, { repeated: kind.held });
    }
    seen.clear();
    passed = 0;
  };

  const log: KafkaLogSink = (level, namespace, message, extra) => {
    const key = `${level}\u0000${namespace}\u0000${message.replace(/\d+/g, '#')}`;
    const kind = seen.get(key);
    if (kind) kind.held += 1;
    else if (passed >= distinctPerPeriod) seen.set(key, { level, namespace, message, shown: false, held: 1 });
    else {
      passed += 1;
      seen.set(key, { level, namespace, message, shown: true, held: 0 });
      sink(level, namespace, message, extra);
    }
    if (!timer) {
      timer = setTimeout(summarise, periodMs);
      timer.unref();
    }
  };

  return {
    log,
    flush() {
      clearTimeout(timer);
      summarise();
    },
  };
}
