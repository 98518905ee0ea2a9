import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { MEDALLION_COMMITS_TOPIC } from '../src/platform/commit.ts';

// ajv-formats is CommonJS; under Node's ESM loader its default export is the plugin function.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** One entry of `ingest/sources.yaml`. */
export interface SourceEntry {
  sourceId: string;
  sourceName: string;
  sourceType: string;
  topic: string;
  bronzeTable: string;
  contractFile: string;
  eventTypes: readonly string[];
  /**
   * Field of the published record whose value keys it on the bus (one key's records stay in
   * order on one partition). Records without it are keyed by their event id.
   */
  partitioning: string;
  retentionDays: number;
  enabled: boolean;
  /** The silver table the embedded medallion promotes this source's bronze rows into, if any. */
  silverTable: string | null;
}

/** A source with its compiled contract. */
export interface Source extends SourceEntry {
  /** Contract version, from the contract's file name (`*.v<N>.schema.json`). */
  contractVersion: number;
  validate: ValidateFunction;
}

/** The loaded registry: sources and the event-type → source routing table. */
export interface SourceRegistry {
  readonly sources: readonly Source[];
  /** Where records refused downstream (the medallion's quarantine) are published. */
  readonly deadLetterTopic: string;
  /** Every topic an enabled source publishes to (what the bus and the medallion read). */
  readonly topics: readonly string[];
  /** Topics of the sources that carry platform events (`event_types`): what `eventIngested` follows. */
  readonly eventTopics: readonly string[];
  /** The enabled source that takes events of this type, if any. */
  routeOf(eventType: string): Source | undefined;
  /** The source with this id (enabled or not). */
  byId(sourceId: string): Source | undefined;
}

/**
 * The topics a gateway's bus reads (its tail and replays): every source's, the dead-letter topic
 * (on Kafka as on the embedded log, what the gateway publishes it reads back) and the medallion's
 * commit notifications. `npm run bootstrap` prepares the same ones.
 */
export function gatewayBusTopics(registry: SourceRegistry): string[] {
  return [...registry.topics, registry.deadLetterTopic, MEDALLION_COMMITS_TOPIC];
}

/** Silver tables the embedded medallion knows how to build (`silver_table` must name one). */
export const SILVER_TABLES = ['silver.events', 'silver.tours'] as const;

export const DEFAULT_REGISTRY_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sources.yaml');

const ENTRY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['source_id', 'source_name', 'source_type', 'kafka_topic', 'target_table', 'contract', 'enabled'],
  properties: {
    source_id: { type: 'string', pattern: '^[a-z][a-z0-9_]*$' },
    source_name: { type: 'string', minLength: 1 },
    source_type: { enum: ['api', 'stream', 'cdc', 'batch', 'file'] },
    location: { type: 'string' },
    kafka_topic: { type: 'string', pattern: '^topic_[a-z0-9_]+$' },
    target_table: { type: 'string', pattern: '^bronze\\.[a-z][a-z0-9_]*$' },
    silver_table: { enum: SILVER_TABLES },
    contract: { type: 'string', pattern: '\\.v[0-9]+\\.schema\\.json$' },
    event_types: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
    partitioning: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_]*$' },
    retention_days: { type: 'integer', minimum: 1 },
    schedule_interval: { type: 'string' },
    enabled: { type: 'boolean' },
  },
} as const;

/** Loads and checks the registry; any problem fails with a message naming the entry and field. */
export async function loadSourceRegistry(file = DEFAULT_REGISTRY_FILE): Promise<SourceRegistry> {
  let document: { sources?: unknown; dead_letter_topic?: unknown } | null;
  try {
    document = parseYaml(await readFile(file, 'utf8')) as typeof document;
  } catch (error) {
    throw new Error(`${file}: cannot read the source registry: ${(error as Error).message}`);
  }
  if (!document || !Array.isArray(document.sources)) {
    throw new Error(`${file}: expected a top-level "sources" list`);
  }
  const deadLetterTopic = document.dead_letter_topic ?? 'topic_dead_letter';
  if (typeof deadLetterTopic !== 'string' || !/^topic_[a-z0-9_]+$/.test(deadLetterTopic)) {
    throw new Error(`${file}: field "dead_letter_topic" must match ^topic_[a-z0-9_]+$`);
  }
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  const checkEntry = ajv.compile(ENTRY_SCHEMA);
  const sources: Source[] = [];
  const routes = new Map<string, Source>();
  const contracts = new Map<string, ValidateFunction>();

  for (const [i, raw] of document.sources.entries()) {
    const label = `${file}: sources[${i}]${isRecord(raw) && typeof raw['source_id'] === 'string' ? ` (${raw['source_id']})` : ''}`;
    if (!checkEntry(raw)) throw new Error(`${label}: ${describeEntryErrors(checkEntry.errors ?? [])}`);
    const entry = raw as unknown as Record<string, unknown>;
    const contractFile = path.resolve(path.dirname(file), String(entry['contract']));
    let validate = contracts.get(contractFile);
    if (!validate) {
      let schema: unknown;
      try {
        schema = JSON.parse(await readFile(contractFile, 'utf8'));
      } catch (error) {
        throw new Error(`${label}: field "contract": cannot read ${contractFile}: ${(error as Error).message}`);
      }
      validate = ajv.compile(schema as object);
      contracts.set(contractFile, validate);
    }
    const source: Source = {
      sourceId: String(entry['source_id']),
      sourceName: String(entry['source_name']),
      sourceType: String(entry['source_type']),
      topic: String(entry['kafka_topic']),
      bronzeTable: String(entry['target_table']),
      contractFile: path.relative(path.dirname(file), contractFile),
      eventTypes: ((entry['event_types'] as string[] | undefined) ?? []).map(String),
      partitioning: String(entry['partitioning'] ?? 'eventId'),
      retentionDays: Number(entry['retention_days'] ?? 7),
      enabled: entry['enabled'] === true,
      silverTable: typeof entry['silver_table'] === 'string' ? entry['silver_table'] : null,
      contractVersion: Number(/\.v(\d+)\.schema\.json$/.exec(contractFile)?.[1] ?? 1),
      validate,
    };
    if (sources.some((s) => s.sourceId === source.sourceId)) throw new Error(`${label}: field "source_id": duplicate id`);
    if (source.topic === deadLetterTopic) throw new Error(`${label}: field "kafka_topic": ${source.topic} is the dead-letter topic`);
    const bronzeOwner = sources.find((s) => s.bronzeTable === source.bronzeTable);
    if (bronzeOwner) throw new Error(`${label}: field "target_table": ${source.bronzeTable} is already the bronze table of ${bronzeOwner.sourceId}`);
    const properties = (validate.schema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
    for (const field of ['eventId', 'sourceId', 'ingestedAt', 'contractVersion']) {
      if (!(field in properties)) throw new Error(`${label}: field "contract": ${source.contractFile} does not declare the enrichment field "${field}"`);
    }
    if (!(source.partitioning in properties)) {
      throw new Error(`${label}: field "partitioning": "${source.partitioning}" is not a field of ${source.contractFile}`);
    }
    if (source.silverTable === 'silver.events' && source.eventTypes.length === 0) {
      throw new Error(`${label}: field "event_types": a source promoted to silver.events carries platform events and must list their types`);
    }
    if (source.silverTable === 'silver.tours') {
      const missing = ['tourId', 'updatedAt', 'deleted'].filter((field) => !(field in properties));
      if (missing.length > 0) {
        throw new Error(`${label}: field "silver_table": a source promoted to silver.tours carries full-state tour records, but ${source.contractFile} lacks ${missing.join(', ')}`);
      }
    }
    if (source.enabled) {
      for (const type of source.eventTypes) {
        const taken = routes.get(type);
        if (taken) throw new Error(`${label}: field "event_types": "${type}" is already routed by ${taken.sourceId}`);
        routes.set(type, source);
      }
    }
    sources.push(source);
  }
  const enabled = sources.filter((s) => s.enabled);
  const byId = new Map(sources.map((s) => [s.sourceId, s]));
  return {
    sources,
    deadLetterTopic,
    topics: [...new Set(enabled.map((s) => s.topic))],
    eventTopics: [...new Set(enabled.filter((s) => s.eventTypes.length > 0).map((s) => s.topic))],
    routeOf: (eventType) => routes.get(eventType),
    byId: (sourceId) => byId.get(sourceId),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** What a JSON Schema check of one YAML entry found, naming the fields. */
export function describeEntryErrors(errors: readonly ErrorObject[]): string {
  return errors
    .map((e) => {
      const field = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : (e.params as { missingProperty?: string }).missingProperty;
      return `field "${field ?? '(entry)'}" ${e.message ?? 'is invalid'}`;
    })
    .join('; ');
}
