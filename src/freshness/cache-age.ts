import type { CachedResponse } from '../http/response-cache.ts';

/**
 * Cached answers say their age (`extensions.freshness.cache`) without parsing on a hit. The stored
 * body is laid out so the stored-at time is its last member: `…"cache":{"hit":true,"storedAt":
 * "<ISO>"}}}}` (cache, freshness, extensions, body). A hit reads the time at a fixed distance
 * from the end and writes `,"ageMs":N` before the closing braces: two slices and a concatenation.
 */
const TAIL = '"}}}}';
const STORED_AT = '"storedAt":"';
/** `"storedAt":"` + 24 characters of `toISOString()` + the tail. */
const SUFFIX_LENGTH = STORED_AT.length + 24 + TAIL.length;

/**
 * The answer as it is stored: without `extensions.backends` (its calls and timings belong to this
 * execution only) and with `extensions.freshness.cache` last, holding the time it was stored.
 * Costs a JSON round trip on cacheable misses, never on hits.
 */
export function storableAnswer(text: string, storedAt: number): string {
  let body: Record<string, unknown> & { extensions?: Record<string, unknown> };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return text; // not a JSON answer: replayed as it is, without an age
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return text;
  const { backends: _figures, freshness, ...extensions } = body.extensions ?? {};
  delete body.extensions;
  // An older `cache` member is dropped so the new one is written last, whatever the answer held.
  const { cache: _older, ...rest } = (freshness ?? {}) as Record<string, unknown>;
  const stored = { ...body, extensions: { ...extensions, freshness: { ...rest, cache: { hit: true, storedAt: new Date(storedAt).toISOString() } } } };
  return JSON.stringify(stored);
}

/** A stored answer as a hit sends it: with `ageMs` at `now`. Bodies stored without the layout are sent as they are. */
export function withCacheAge(hit: CachedResponse, now: number = Date.now()): CachedResponse {
  const { body } = hit;
  const at = body.length - SUFFIX_LENGTH;
  if (at < 0 || !body.endsWith(TAIL) || !body.startsWith(STORED_AT, at)) return hit;
  const storedAt = Date.parse(body.slice(at + STORED_AT.length, body.length - TAIL.length));
  if (Number.isNaN(storedAt)) return hit;
  // Instances sharing a cache may disagree on the clock by a little: an age is never negative.
  const age = `,"ageMs":${Math.max(0, now - storedAt)}`;
  return { ...hit, body: `${body.slice(0, body.length - 4)}${age}}}}}`, length: hit.length + age.length };
}
