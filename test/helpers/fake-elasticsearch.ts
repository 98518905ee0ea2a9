import { createRequire } from 'node:module';
import { Client, errors, type ClientOptions } from '@elastic/elasticsearch';
import elasticsearchMock from '@elastic/elasticsearch-mock';
import type { EventRow, TourRow } from '../../src/domain.ts';
import { destinationsPage, eventsPage, toursPage } from '../../src/backends/lakehouse/queries.ts';
import type { SqlEngine } from '../../src/backends/sql/port.ts';
import { startTestGateway, type TestGateway } from './gateway.ts';

/**
 * A small fake Elasticsearch behind `@elastic/elasticsearch-mock`: it answers from the documents
 * the adapter bulk-indexed, by evaluating the request body the adapter built, in the response
 * shapes Elasticsearch documents; anything outside the subset it knows is answered with a 400, so
 * a change of the adapter's DSL fails the tests instead of passing silently.
 */

// The package is CommonJS (`module.exports = ClientMock`) but its types say `export default`, so for
// TypeScript the default import is the module object; at run time it is the class itself.
export const ClientMock = ((elasticsearchMock as { default?: unknown }).default ?? elasticsearchMock) as typeof elasticsearchMock.default;
type Mock = InstanceType<typeof ClientMock>;
/**
 * The mock tells an error answer from a body by `instanceof` against the CommonJS build of the
 * client's errors, which are other classes than the ESM build this file imports.
 */
export const mockErrors = (createRequire(import.meta.url)('@elastic/elasticsearch') as { errors: typeof errors }).errors;

/**
 * A client whose requests the mock answers. The mock's types name the transport's CommonJS
 * connection class and the client's the ESM one (the same class at run time), hence the cast.
 */
export function mockClient(mock: Mock, options: Omit<ClientOptions, 'node' | 'Connection'> = {}): Client {
  return new Client({ node: 'http://localhost:9200', Connection: mock.getConnection() as unknown as ClientOptions['Connection'], ...options });
}

// ---------------------------------------------------------------------------------------------
// Demo data, built once per test file.

export interface Demo {
  lakehouse: SqlEngine;
  tours: TourRow[];
  destinationNames: Map<string, string>;
  events: EventRow[];
}

let gateway: TestGateway | undefined;
let demo: Promise<Demo> | undefined;
export function demoData(): Promise<Demo> {
  demo ??= (async () => {
    gateway = await startTestGateway();
    const lakehouse = gateway.gateway.services.backends.lakehouse;
    const tours = (await toursPage(lakehouse, { first: 100_000, withTotal: false })).rows;
    const destinations = (await destinationsPage(lakehouse, { first: 100_000, withTotal: false })).rows;
    const events = (await eventsPage(lakehouse, { first: 1_000_000 })).rows;
    return { lakehouse, tours, destinationNames: new Map(destinations.map((d) => [d.id, d.name])), events };
  })();
  return demo;
}
/** Stops the demo gateway `demoData` started (call from the test file's `afterAll`). */
export async function closeDemoData(): Promise<void> {
  await gateway?.close();
  gateway = undefined;
  demo = undefined;
}

// ---------------------------------------------------------------------------------------------
// The fake Elasticsearch: the query subset the adapter emits, evaluated over stored documents.

export type Json = Record<string, unknown>;
type Doc = Record<string, unknown>;
interface LoggedRequest {
  method: string;
  path: string;
  querystring: Record<string, string>;
  body: unknown;
}
interface FakeIndex {
  properties: Record<string, Json>;
  dynamic: unknown;
  /** Searchable documents (refreshed). */
  docs: Map<string, Doc>;
  /** Written since the last refresh (null: deleted). */
  pending: Map<string, Doc | null>;
  /** Per-field term statistics of the searchable documents, computed on demand. */
  stats: Map<string, FieldStats>;
  /** Resolved fields, by name. */
  fields: Map<string, FieldInfo>;
}
interface FieldStats {
  tokens: Map<string, string[]>;
  docFrequency: Map<string, number>;
  averageLength: number;
}
/** A document matching a query: its score and, per field, the indexed words that matched (for highlighting). */
interface Match {
  score: number;
  matched: Map<string, Set<string>>;
}

/** Thrown for request parts outside the supported subset; answered as Elasticsearch answers bad requests (400). */
class Unsupported extends Error {}

function unsupported(what: string, value: unknown): never {
  throw new Unsupported(`the fake does not support ${what}: ${JSON.stringify(value)}`);
}

function only(object: Json, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(object)) if (!allowed.includes(key)) unsupported(`${what}.${key}`, object[key]);
}

export function errorResponse(statusCode: number, type: string, reason: string): errors.ResponseError {
  const body = { error: { type, reason, root_cause: [{ type, reason }] }, status: statusCode };
  return new mockErrors.ResponseError({ body, statusCode, headers: {}, warnings: null, meta: {} } as unknown as ConstructorParameters<typeof errors.ResponseError>[0]);
}

/** The `folding` analyzer of the mappings: standard tokens, lower case, accents folded. */
const fold = (text: string) => text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
const tokensOf = (text: string) => fold(text).match(/[\p{L}\p{N}]+/gu) ?? [];
const asArray = (value: unknown): unknown[] => (value === null || value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Damerau–Levenshtein distance (optimal string alignment), as `fuzzy_transpositions: true` counts edits. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}

/** `fuzziness: AUTO`: terms of 0–2 characters match exactly, 3–5 with one edit, longer with two. */
function allowedEdits(fuzziness: unknown, term: string): number {
  if (fuzziness === undefined) return 0;
  if (fuzziness !== 'AUTO') unsupported('fuzziness', fuzziness);
  return term.length < 3 ? 0 : term.length < 6 ? 1 : 2;
}

/** HTML encoding of the `html` highlight encoder (Lucene's SimpleHTMLEncoder). */
const encodeHtml = (text: string) =>
  text.replace(/[&<>"'/]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;', '/': '&#x2F;' })[c]!);

export interface FakeElasticsearch {
  client: Client;
  requests: LoggedRequest[];
  indices: Map<string, FakeIndex>;
  clusterStatus: 'green' | 'yellow' | 'red';
  /** Answers to give once, instead of the fake's, by `METHOD /path`. */
  failures: Map<string, errors.ResponseError>;
}

export function fakeElasticsearch(): FakeElasticsearch {
  const mock = new ClientMock();
  const fake: FakeElasticsearch = {
    client: mockClient(mock, { maxRetries: 0 }),
    requests: [],
    indices: new Map(),
    clusterStatus: 'green',
    failures: new Map(),
  };
  const { indices } = fake;

  const route = (method: string | string[], path: string, handle: (params: LoggedRequest, index: string) => Json | errors.ResponseError) =>
    mock.add({ method, path }, (params) => {
      const request: LoggedRequest = { method: String(params.method), path: String(params.path), querystring: params.querystring ?? {}, body: params.body ?? null };
      fake.requests.push(request);
      const failure = fake.failures.get(`${request.method} ${request.path}`);
      if (failure) {
        fake.failures.delete(`${request.method} ${request.path}`);
        return failure;
      }
      try {
        return handle(request, decodeURIComponent(request.path.split('/')[1] ?? ''));
      } catch (error) {
        if (error instanceof Unsupported) return errorResponse(400, 'parsing_exception', error.message);
        return errorResponse(500, 'fake_failure', error instanceof Error ? error.stack ?? error.message : String(error));
      }
    });

  const existing = (name: string): FakeIndex => {
    const index = indices.get(name);
    if (!index) throw Object.assign(new Error(name), { notFound: name });
    return index;
  };
  const notFound = (error: unknown) =>
    error instanceof Error && 'notFound' in error ? errorResponse(404, 'index_not_found_exception', `no such index [${String(error.notFound)}]`) : undefined;

  function refresh(index: FakeIndex): void {
    for (const [id, doc] of index.pending) {
      if (doc) index.docs.set(id, doc);
      else index.docs.delete(id);
    }
    index.pending.clear();
    index.stats.clear();
  }

  route('HEAD', '/:index', (_, name) => (indices.has(name) ? {} : errorResponse(404, 'index_not_found_exception', name)));
  route('PUT', '/:index', (request, name) => {
    if (indices.has(name)) return errorResponse(400, 'resource_already_exists_exception', `index [${name}] already exists`);
    const body = (request.body ?? {}) as Json;
    only(body, ['settings', 'mappings'], 'create index');
    const mappings = (body['mappings'] ?? {}) as Json;
    indices.set(name, { properties: (mappings['properties'] ?? {}) as Record<string, Json>, dynamic: mappings['dynamic'], docs: new Map(), pending: new Map(), stats: new Map(), fields: new Map() });
    return { acknowledged: true, shards_acknowledged: true, index: name };
  });
  route(['POST', 'PUT'], '/_bulk', (request) => {
    const lines = request.body as Json[];
    const items: Json[] = [];
    for (let i = 0; i < lines.length; i += 2) {
      const action = lines[i]!;
      only(action, ['index'], 'bulk action');
      const { _index, _id } = action['index'] as { _index: string; _id: string };
      const doc = lines[i + 1] as Doc;
      let index = indices.get(_index);
      if (!index) {
        // Elasticsearch creates a missing index with dynamic mappings; so does the fake (without the types).
        index = { properties: {}, dynamic: true, docs: new Map(), pending: new Map(), stats: new Map(), fields: new Map() };
        indices.set(_index, index);
      }
      const unknown = index.dynamic === 'strict' ? Object.keys(doc).find((field) => !(field in index.properties)) : undefined;
      if (unknown) {
        const reason = `[1:2] mapping set to strict, dynamic introduction of [${unknown}] within [_doc] is not allowed`;
        items.push({ index: { _index, _id, status: 400, error: { type: 'strict_dynamic_mapping_exception', reason } } });
        continue;
      }
      const created = !index.docs.has(_id) && !index.pending.get(_id);
      index.pending.set(_id, structuredClone(doc));
      items.push({ index: { _index, _id, _version: 1, result: created ? 'created' : 'updated', status: created ? 201 : 200 } });
    }
    return { took: 1, errors: items.some((item) => (item['index'] as Json)['error']), items };
  });
  route(['GET', 'POST'], '/:index/_refresh', (_, name) => {
    try {
      refresh(existing(name));
      return { _shards: { total: 1, successful: 1, failed: 0 } };
    } catch (error) {
      return notFound(error) ?? errorResponse(500, 'fake_failure', String(error));
    }
  });
  route(['GET', 'POST'], '/:index/_search', (request, name) => {
    try {
      return search(existing(name), name, (request.body ?? {}) as Json);
    } catch (error) {
      const response = notFound(error);
      if (response) return response;
      throw error;
    }
  });
  route('POST', '/:index/_delete_by_query', (request, name) => {
    const index = indices.get(name);
    if (!index) return errorResponse(404, 'index_not_found_exception', name);
    const body = (request.body ?? {}) as Json;
    only(body, ['query'], 'delete_by_query');
    let deleted = 0;
    let conflicts = 0;
    for (const [id, doc] of index.docs) {
      if (!evaluate(index, body['query'] as Json, id, doc)) continue;
      // A document written since the last refresh changed under the query's snapshot: a version conflict.
      if (index.pending.has(id)) {
        conflicts += 1;
        continue;
      }
      index.pending.set(id, null);
      deleted += 1;
    }
    if (conflicts > 0 && request.querystring['conflicts'] !== 'proceed') return errorResponse(409, 'version_conflict_engine_exception', `${conflicts} conflicts`);
    if (request.querystring['refresh'] === 'true') refresh(index);
    return { took: 1, timed_out: false, total: deleted + conflicts, deleted, batches: 1, version_conflicts: conflicts, noops: 0, failures: [] };
  });
  route('GET', '/_cluster/health', () => ({
    cluster_name: 'fake',
    status: fake.clusterStatus,
    timed_out: false,
    number_of_nodes: 1,
    number_of_data_nodes: 1,
    active_primary_shards: indices.size,
    active_shards: indices.size,
    relocating_shards: 0,
    initializing_shards: 0,
    unassigned_shards: fake.clusterStatus === 'green' ? 0 : indices.size,
  }));
  return fake;
}

interface FieldInfo {
  type: string;
  scaling?: number;
  read(doc: Doc): unknown[];
}

/** How a field (`name`, `tags.text`, a copy_to target) is typed and read from a document. */
function fieldOf(index: FakeIndex, field: string): FieldInfo {
  let info = index.fields.get(field);
  if (!info) {
    info = resolveField(index, field);
    index.fields.set(field, info);
  }
  return info;
}

function resolveField(index: FakeIndex, field: string): FieldInfo {
  const [base = '', sub] = field.split('.', 2);
  const property = index.properties[base];
  if (!property) return { type: 'unmapped', read: () => [] };
  const mapping = sub === undefined ? property : ((property['fields'] as Record<string, Json> | undefined)?.[sub] ?? unsupported('field', field));
  const copiedFrom = Object.entries(index.properties).filter(([, p]) => asArray(p['copy_to']).includes(field)).map(([name]) => name);
  const scaling = mapping['scaling_factor'];
  return {
    type: String(mapping['type']),
    ...(typeof scaling === 'number' ? { scaling } : {}),
    read: (doc) => [...asArray(doc[base]), ...copiedFrom.flatMap((name) => asArray(doc[name]))],
  };
}

function statsOf(index: FakeIndex, field: string): FieldStats {
  let stats = index.stats.get(field);
  if (!stats) {
    const { read } = fieldOf(index, field);
    const tokens = new Map<string, string[]>();
    const docFrequency = new Map<string, number>();
    let totalLength = 0;
    for (const [id, doc] of index.docs) {
      const words = read(doc).flatMap((value) => tokensOf(String(value)));
      tokens.set(id, words);
      totalLength += words.length;
      for (const word of new Set(words)) docFrequency.set(word, (docFrequency.get(word) ?? 0) + 1);
    }
    stats = { tokens, docFrequency, averageLength: index.docs.size === 0 ? 0 : totalLength / index.docs.size };
    index.stats.set(field, stats);
  }
  return stats;
}

/** BM25 (k1 1.2, b 0.75) of one indexed word in one document's field, as Elasticsearch's default similarity scores it. */
function bm25(index: FakeIndex, field: string, id: string, word: string): number {
  const stats = statsOf(index, field);
  const words = stats.tokens.get(id) ?? [];
  const frequency = words.filter((w) => w === word).length;
  const documents = stats.docFrequency.get(word) ?? 0;
  const idf = Math.log(1 + (index.docs.size - documents + 0.5) / (documents + 0.5));
  return (idf * frequency * 2.2) / (frequency + 1.2 * (0.25 + (0.75 * words.length) / (stats.averageLength || 1)));
}

const clauses = (value: unknown): Json[] => asArray(value) as Json[];

/** Evaluates one query clause for one document: its match (score, matched words) or null. */
function evaluate(index: FakeIndex, query: Json, id: string, doc: Doc): Match | null {
  const [kind, ...others] = Object.keys(query);
  if (!kind || others.length > 0) unsupported('query', query);
  const spec = query[kind] as Json;
  switch (kind) {
    case 'bool': {
      only(spec, ['must', 'should', 'filter', 'must_not', 'minimum_should_match'], 'bool');
      const match: Match = { score: 0, matched: new Map() };
      const absorb = (part: Match, scored: boolean) => {
        if (scored) match.score += part.score;
        for (const [field, words] of part.matched) match.matched.set(field, new Set([...(match.matched.get(field) ?? []), ...words]));
      };
      for (const clause of clauses(spec['filter'])) {
        const part = evaluate(index, clause, id, doc);
        if (!part) return null;
      }
      for (const clause of clauses(spec['must'])) {
        const part = evaluate(index, clause, id, doc);
        if (!part) return null;
        absorb(part, true);
      }
      for (const clause of clauses(spec['must_not'])) if (evaluate(index, clause, id, doc)) return null;
      const should = clauses(spec['should']);
      // Without must/filter clauses at least one should clause has to match (Elasticsearch's default).
      const required = (spec['minimum_should_match'] as number | undefined) ?? (spec['must'] || spec['filter'] ? 0 : should.length > 0 ? 1 : 0);
      let matchedShould = 0;
      for (const clause of should) {
        const part = evaluate(index, clause, id, doc);
        if (!part) continue;
        matchedShould += 1;
        absorb(part, true);
      }
      return matchedShould >= required ? match : null;
    }
    case 'multi_match':
      return multiMatch(index, spec, id, doc);
    case 'simple_query_string':
      return simpleQueryString(index, spec, id, doc);
    case 'term': {
      const [field, raw] = Object.entries(spec)[0] ?? unsupported('term', spec);
      const value = typeof raw === 'object' && raw !== null ? (raw as Json)['value'] : raw;
      return fieldOf(index, field).read(doc).some((v) => v === value) ? { score: 1, matched: new Map() } : null;
    }
    case 'terms': {
      const [field, values] = Object.entries(spec)[0] ?? unsupported('terms', spec);
      if (!Array.isArray(values)) unsupported('terms lookup', spec);
      return fieldOf(index, field).read(doc).some((v) => values.includes(v)) ? { score: 1, matched: new Map() } : null;
    }
    case 'range': {
      const [field, bounds] = Object.entries(spec)[0] as [string, Json];
      only(bounds, ['gte', 'gt', 'lte', 'lt'], 'range');
      const info = fieldOf(index, field);
      const number = (value: unknown): number => {
        if (info.type === 'date') return typeof value === 'number' ? value : Date.parse(String(value));
        const n = Number(value);
        // The stored value's precision: float is single precision, scaled_float rounds to its factor.
        return info.type === 'float' ? Math.fround(n) : info.scaling ? Math.round(n * info.scaling) / info.scaling : n;
      };
      const inRange = (value: unknown) => {
        const v = number(value);
        return (
          (bounds['gte'] === undefined || v >= number(bounds['gte'])) &&
          (bounds['gt'] === undefined || v > number(bounds['gt'])) &&
          (bounds['lte'] === undefined || v <= number(bounds['lte'])) &&
          (bounds['lt'] === undefined || v < number(bounds['lt']))
        );
      };
      return info.read(doc).some(inRange) ? { score: 1, matched: new Map() } : null;
    }
    default:
      return unsupported('query', query);
  }
}

/**
 * `multi_match` of type `best_fields` (per field a match query, OR of its words with AUTO
 * fuzziness; the best field's score) or `bool_prefix` (all words but the last as fuzzy terms, the
 * last as a constant-score prefix; field scores summed, as for most_fields).
 */
function multiMatch(index: FakeIndex, spec: Json, id: string, doc: Doc): Match | null {
  only(spec, ['query', 'type', 'fields', 'fuzziness', 'operator'], 'multi_match');
  const type = spec['type'] ?? 'best_fields';
  if (type !== 'best_fields' && type !== 'bool_prefix') unsupported('multi_match type', type);
  if ((spec['operator'] ?? 'or') !== 'or') unsupported('multi_match operator', spec['operator']);
  const terms = tokensOf(String(spec['query']));
  const match: Match = { score: 0, matched: new Map() };
  for (const fieldSpec of spec['fields'] as string[]) {
    const [field = '', boost = '1'] = fieldSpec.split('^');
    if (fieldOf(index, field).type !== 'text') unsupported('multi_match over a non-text field', field);
    const words = statsOf(index, field).tokens.get(id) ?? [];
    let fieldScore = 0;
    const matchedWords = new Set<string>();
    terms.forEach((term, position) => {
      const prefix = type === 'bool_prefix' && position === terms.length - 1;
      const edits = prefix ? 0 : allowedEdits(spec['fuzziness'], term);
      let best = 0;
      for (const word of new Set(words)) {
        let score = 0;
        if (prefix && word.startsWith(term)) score = 1;
        else if (word === term) score = bm25(index, field, id, word);
        else if (!prefix && edits > 0 && Math.abs(word.length - term.length) <= edits) {
          const distance = editDistance(term, word);
          // Lucene scores a fuzzy expansion lower the more edits it took.
          if (distance <= edits) score = bm25(index, field, id, word) * (1 - distance / Math.min(term.length, word.length));
        }
        if (score > 0) {
          matchedWords.add(word);
          best = Math.max(best, score);
        }
      }
      fieldScore += best;
    });
    if (matchedWords.size === 0) continue;
    match.matched.set(field, matchedWords);
    const scored = fieldScore * Number(boost);
    match.score = type === 'best_fields' ? Math.max(match.score, scored) : match.score + scored;
  }
  return match.matched.size > 0 ? match : null;
}

/** `simple_query_string` with AND: every whitespace-separated word (or "phrase", or prefix*) in some field. */
function simpleQueryString(index: FakeIndex, spec: Json, id: string, doc: Doc): Match | null {
  only(spec, ['query', 'fields', 'default_operator', 'flags'], 'simple_query_string');
  if (spec['default_operator'] !== 'and') unsupported('simple_query_string default_operator', spec['default_operator']);
  const flags = String(spec['flags'] ?? 'ALL').split('|');
  const fields = spec['fields'] as string[];
  const match: Match = { score: 0, matched: new Map() };
  for (const [, phrase, word = ''] of String(spec['query']).matchAll(/"([^"]*)"|(\S+)/g)) {
    const prefix = phrase === undefined && word.endsWith('*') && flags.includes('PREFIX');
    const sequence = tokensOf(phrase !== undefined && flags.includes('PHRASE') ? phrase : word);
    if (sequence.length === 0) continue;
    const found = fields.some((field) => {
      const words = statsOf(index, field).tokens.get(id) ?? [];
      const at = words.findIndex((_, start) =>
        sequence.every((token, k) => (prefix && k === sequence.length - 1 ? words[start + k]?.startsWith(token) : words[start + k] === token)),
      );
      if (at < 0) return false;
      for (const token of words.slice(at, at + sequence.length)) match.score += bm25(index, field, id, token);
      return true;
    });
    if (!found) return null;
  }
  return match;
}

/** `_search`: query, sort + search_after, from/size, track_total_hits, _source, highlight, aggs. */
function search(index: FakeIndex, name: string, body: Json): Json {
  only(body, ['query', 'from', 'size', 'track_total_hits', '_source', 'sort', 'search_after', 'highlight', 'aggs'], 'search');
  const query = (body['query'] ?? { bool: {} }) as Json;
  const matches: { id: string; doc: Doc; match: Match }[] = [];
  for (const [id, doc] of index.docs) {
    const match = evaluate(index, query, id, doc);
    if (match) matches.push({ id, doc, match });
  }

  const sort = clauses(body['sort']).map((entry) => {
    const [field, order] = Object.entries(entry)[0] ?? unsupported('sort', entry);
    const direction = typeof order === 'string' ? order : (order as Json)['order'];
    if (direction !== 'asc' && direction !== 'desc') unsupported('sort order', order);
    return { field, sign: direction === 'asc' ? 1 : -1, type: field === '_score' ? 'score' : fieldOf(index, field).type };
  });
  const sortValues = (entry: (typeof matches)[number]) =>
    sort.map(({ field, type }): number | string => {
      if (type === 'score') return entry.match.score;
      const value = fieldOf(index, field).read(entry.doc)[0];
      return type === 'date' ? Date.parse(String(value)) : type === 'keyword' ? String(value) : Number(value);
    });
  const compare = (a: (number | string)[], b: (number | string)[]) => {
    for (const [i, { sign }] of sort.entries()) {
      if (a[i]! < b[i]!) return -sign;
      if (a[i]! > b[i]!) return sign;
    }
    return 0;
  };
  let ranked = matches.map((entry) => ({ ...entry, sortValues: sortValues(entry) }));
  if (sort.length > 0) ranked.sort((a, b) => compare(a.sortValues, b.sortValues));
  else ranked.sort((a, b) => b.match.score - a.match.score);
  if (body['search_after'] !== undefined) {
    const after = body['search_after'] as (number | string)[];
    if (sort.length === 0 || after.length !== sort.length) unsupported('search_after without a matching sort', after);
    ranked = ranked.filter((entry) => compare(entry.sortValues, after) > 0);
  }

  const from = (body['from'] as number | undefined) ?? 0;
  const size = (body['size'] as number | undefined) ?? 10;
  if (from + size > 10_000) {
    return errorResponse(400, 'illegal_argument_exception', 'Result window is too large, from + size must be less than or equal to: [10000]') as unknown as Json;
  }
  const scored = sort.length === 0 || sort.some((s) => s.type === 'score');
  const page = ranked.slice(from, from + size);
  const tracked = body['track_total_hits'] === true || matches.length <= 10_000;
  return {
    took: 1,
    timed_out: false,
    _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
    hits: {
      total: { value: tracked ? matches.length : 10_000, relation: tracked ? 'eq' : 'gte' },
      max_score: scored && page.length > 0 ? Math.max(...page.map((entry) => entry.match.score)) : null,
      hits: page.map((entry) => {
        const highlight = body['highlight'] ? highlightOf(index, body['highlight'] as Json, entry.doc, entry.match) : {};
        return {
          _index: name,
          _id: entry.id,
          _score: scored ? entry.match.score : null,
          ...(body['_source'] === false ? {} : { _source: entry.doc }),
          ...(Object.keys(highlight).length > 0 ? { highlight } : {}),
          ...(sort.length > 0 ? { sort: entry.sortValues } : {}),
        };
      }),
    },
    ...(body['aggs'] ? { aggregations: aggregate(index, body['aggs'] as Json, matches.map((entry) => entry.doc)) } : {}),
  };
}

/** One fragment per highlighted field, matched words wrapped in the tags, text HTML-encoded. */
function highlightOf(index: FakeIndex, spec: Json, doc: Doc, match: Match): Record<string, string[]> {
  only(spec, ['pre_tags', 'post_tags', 'encoder', 'fragment_size', 'number_of_fragments', 'fields'], 'highlight');
  const [pre = '<em>'] = (spec['pre_tags'] as string[] | undefined) ?? [];
  const [post = '</em>'] = (spec['post_tags'] as string[] | undefined) ?? [];
  const encode = spec['encoder'] === 'html' ? encodeHtml : (text: string) => text;
  const fragmentSize = (spec['fragment_size'] as number | undefined) ?? 100;
  const fragments = (spec['number_of_fragments'] as number | undefined) ?? 5;
  const result: Record<string, string[]> = {};
  for (const [field, options] of Object.entries(spec['fields'] as Record<string, Json>)) {
    only(options, [], `highlight field ${field}`);
    const words = match.matched.get(field);
    if (!words) continue;
    const snippets: string[] = [];
    for (const value of fieldOf(index, field).read(doc).map(String)) {
      const spans = [...value.matchAll(/[\p{L}\p{M}\p{N}]+/gu)].map((m) => ({ start: m.index, end: m.index + m[0].length, hit: words.has(tokensOf(m[0])[0] ?? '') }));
      const firstHit = spans.find((span) => span.hit);
      if (!firstHit || snippets.length >= fragments) continue;
      // A window of fragment_size characters around the first match, cut at word boundaries.
      const start = value.length <= fragmentSize ? 0 : (spans.findLast((span) => span.start <= Math.max(0, firstHit.start - fragmentSize / 4))?.start ?? 0);
      const end = Math.min(value.length, start + fragmentSize);
      let snippet = '';
      let at = start;
      for (const span of spans.filter((s) => s.start >= start && s.end <= end && s.hit)) {
        snippet += `${encode(value.slice(at, span.start))}${pre}${encode(value.slice(span.start, span.end))}${post}`;
        at = span.end;
      }
      snippets.push(snippet + encode(value.slice(at, end)));
    }
    if (snippets.length > 0) result[field] = snippets;
  }
  return result;
}

/** `terms` (count and key order, size, sum_other_doc_count) and `range` (from included, to excluded) aggregations. */
function aggregate(index: FakeIndex, aggs: Json, docs: Doc[]): Json {
  const result: Json = {};
  for (const [name, definition] of Object.entries(aggs as Record<string, Json>)) {
    only(definition, ['terms', 'range'], `aggregation ${name}`);
    if (definition['terms']) {
      const spec = definition['terms'] as Json;
      only(spec, ['field', 'size', 'order'], 'terms aggregation');
      const { read } = fieldOf(index, String(spec['field']));
      const counts = new Map<string, number>();
      for (const doc of docs) for (const value of new Set(read(doc).map(String))) counts.set(value, (counts.get(value) ?? 0) + 1);
      const order = clauses(spec['order'] ?? [{ _count: 'desc' }, { _key: 'asc' }]).map((o) => Object.entries(o)[0] as [string, string]);
      const buckets = [...counts].map(([key, doc_count]) => ({ key, doc_count }));
      buckets.sort((a, b) => {
        for (const [by, direction] of order) {
          const sign = direction === 'asc' ? 1 : -1;
          const [x, y] = by === '_count' ? [a.doc_count, b.doc_count] : by === '_key' ? [a.key, b.key] : unsupported('terms order', by);
          if (x !== y) return x < y ? -sign : sign;
        }
        return 0;
      });
      const size = (spec['size'] as number | undefined) ?? 10;
      const rest = buckets.slice(size).reduce((sum, bucket) => sum + bucket.doc_count, 0);
      result[name] = { doc_count_error_upper_bound: 0, sum_other_doc_count: rest, buckets: buckets.slice(0, size) };
    } else {
      const spec = definition['range'] as Json;
      only(spec, ['field', 'ranges'], 'range aggregation');
      const { read } = fieldOf(index, String(spec['field']));
      const label = (n: unknown) => (n === undefined ? '*' : Number(n).toFixed(1));
      result[name] = {
        buckets: (spec['ranges'] as Json[]).map((range) => {
          only(range, ['key', 'from', 'to'], 'range');
          const from = range['from'] as number | undefined;
          const to = range['to'] as number | undefined;
          const doc_count = docs.filter((doc) => read(doc).some((v) => (from === undefined || Number(v) >= from) && (to === undefined || Number(v) < to))).length;
          return { key: range['key'] ?? `${label(from)}-${label(to)}`, ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }), doc_count };
        }),
      };
    }
  }
  return result;
}

