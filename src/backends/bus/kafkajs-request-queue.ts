import { createRequire } from 'node:module';

/**
 * A correction to kafkajs 2.2.4 (its last release), applied to its request queue at run time.
 *
 * After every response, `RequestQueue.scheduleCheckPendingRequests` arms a timer for
 * `throttledUntil - Date.now()` even when nothing is pending; `throttledUntil` starts at -1, so
 * the delay is about minus the epoch. Node turns it into 1 ms (since Node 23 with a
 * `TimeoutNegativeWarning` on every start), the timer checks the empty queue and arms the next
 * one: a 1 ms loop per broker connection for the life of the client
 * (https://github.com/tulios/kafkajs/issues/1751, https://github.com/tulios/kafkajs/issues/1704;
 * the fixes, e.g. https://github.com/tulios/kafkajs/pull/1768, are unreleased). No client option
 * avoids that path. The correction skips the timer when nothing is pending and no throttle is in
 * force, the case the method only ever handled by accident; a queued request still schedules its
 * check (`push` calls the method after queueing). It applies only to the method as released: a
 * kafkajs whose method reads otherwise is left as it is.
 */
export function correctKafkaJsRequestQueue(): boolean {
  const require = createRequire(import.meta.url);
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: Record<string | symbol, unknown> } | undefined;
  const proto = RequestQueue?.prototype;
  const original = proto?.['scheduleCheckPendingRequests'];
  if (!proto || typeof original !== 'function') return false;
  if (proto[CORRECTED]) return true;
  if (!original.toString().includes('this.throttledUntil - Date.now()')) return false;
  proto['scheduleCheckPendingRequests'] = function scheduleCheckPendingRequests(this: QueueState): void {
    if (this.pending.length === 0 && this.throttledUntil <= Date.now()) return;
    (original as (this: QueueState) => void).call(this);
  };
  proto[CORRECTED] = true;
  return true;
}

/** The fields of kafkajs's request queue the correction reads. */
interface QueueState {
  pending: unknown[];
  /** End of the client-side throttle, ms since the epoch (-1: never throttled). */
  throttledUntil: number;
}

const CORRECTED = Symbol.for('nexus-gateway.kafkajs-request-queue-corrected');
