/** The log throttle in front of kafkajs's logger: first lines pass, repeats become one summary a period. */
import { afterEach, expect, it, vi } from 'vitest';
import { throttleKafkaLog } from '../src/backends/bus/kafka-log.ts';

afterEach(() => {
  vi.useRealTimers();
});

it('passes the first line of each kind, counts the repeats and summarises them once a period', () => {
  vi.useFakeTimers();
  const written: string[] = [];
  const throttled = throttleKafkaLog((level, namespace, message) => written.push(`${level} ${namespace} ${message}`), { periodMs: 1_000 });
  for (let retry = 0; retry < 50; retry += 1) {
    throttled.log('error', 'Connection', 'Connection error: connect ECONNREFUSED 127.0.0.1:9092', { retryCount: retry });
    throttled.log('error', 'Consumer', `Restarting the consumer in ${300 + retry}ms`, {});
  }
  expect(written).toEqual(['error Connection Connection error: connect ECONNREFUSED 127.0.0.1:9092', 'error Consumer Restarting the consumer in 300ms']);
  vi.advanceTimersByTime(1_000);
  expect(written.slice(2)).toEqual([
    'error Connection Connection error: connect ECONNREFUSED 127.0.0.1:9092 (repeated 49 more times in 1 s)',
    'error Consumer Restarting the consumer in 300ms (repeated 49 more times in 1 s)',
  ]);
  // A new period starts afresh: the next failure is a line of its own again.
  throttled.log('error', 'Connection', 'Connection error: connect ECONNREFUSED 127.0.0.1:9092', {});
  expect(written).toHaveLength(5);
});

it('passes a bounded number of distinct lines per period and writes what it held back on flush', () => {
  vi.useFakeTimers();
  const written: string[] = [];
  const throttled = throttleKafkaLog((_level, _namespace, message) => written.push(message), { periodMs: 60_000, distinctPerPeriod: 3 });
  for (const word of ['a', 'b', 'c', 'd', 'e']) throttled.log('warn', 'kafkajs', `broker ${word} unreachable`, {});
  expect(written).toEqual(['broker a unreachable', 'broker b unreachable', 'broker c unreachable']);
  throttled.flush();
  expect(written.slice(3)).toEqual(['broker d unreachable (1 times in 60 s)', 'broker e unreachable (1 times in 60 s)']);
  expect(vi.getTimerCount()).toBe(0);
});
