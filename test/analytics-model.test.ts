import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DEFAULT_MODEL_FILE, loadAnalyticsModel, parseAnalyticsModel } from '../src/analytics/model.ts';
import { MODEL_SDL_FILE, modelSdl } from '../src/analytics/sdl.ts';

const TEXT = readFileSync(DEFAULT_MODEL_FILE, 'utf8');

/** A model entry, as far as the changes below reach into it. */
type Entry = Record<string, unknown> & { ratio: { denominator: string }; granularities: string[] };
type Doc = { measures: Entry[]; dimensions: Entry[]; timeDimensions: Entry[] };

/** The repository's model with `change` applied to its parsed document, checked. */
function modelWith(change: (doc: Doc) => void): () => unknown {
  const doc = parse(TEXT) as Doc;
  change(doc);
  return () => parseAnalyticsModel(stringify(doc), 'model.yaml');
}

describe('the analytics model', () => {
  it('loads, and schema/analytics-model.graphql is what `npm run model` makes of it', () => {
    const model = loadAnalyticsModel();
    expect(model.measures.map((m) => m.name)).toEqual(expect.arrayContaining(['bookings', 'revenue', 'avgAmount', 'uniqueUsers', 'views', 'cancellations', 'conversion']));
    const checkedIn = readFileSync(path.join(import.meta.dirname, '..', MODEL_SDL_FILE), 'utf8');
    expect(checkedIn, 'run `npm run model` after editing src/analytics/model.yaml').toBe(modelSdl(model));
  });

  it.each([
    ['an unknown column', (d: Doc) => (d.measures[2]!['column'] = 'amount_usd'), /measures\[2\] \(revenue\): unknown column amount_usd/],
    ['a duplicate name', (d: Doc) => d.dimensions.push({ name: 'revenue', column: 'region' } as unknown as Entry), /dimensions\[12\] \(revenue\): the name revenue is already used by measures\[2\] \(revenue\)/],
    ['an unknown role', (d: Doc) => (d.measures[8]!['role'] = 'superuser'), /measures\[8\] \(uniqueUsers\)\.role: must be equal to one of the allowed values: \["app","analyst","admin"\]/],
    ['an unknown join', (d: Doc) => (d.dimensions[6]!['join'] = 'hotels'), /dimensions\[6\] \(category\): unknown join hotels \(joins: tours, users\)/],
    ['a column the join lacks', (d: Doc) => (d.dimensions[6]!['column'] = 'price'), /dimensions\[6\] \(category\): unknown column price \(analytics\.tours has/],
    ['a ratio of an unknown measure', (d: Doc) => (d.measures[3]!.ratio.denominator = 'sales'), /measures\[3\] \(avgAmount\): ratio\.denominator: unknown measure sales/],
    ['an unknown field', (d: Doc) => (d.measures[0]!['aggregate'] = 'count'), /measures\[0\] \(events\): unknown field aggregate/],
    ['a name that is not camelCase', (d: Doc) => (d.dimensions[0]!['name'] = 'Region-Code'), /dimensions\[0\]( \(Region-Code\))?\.name: must match pattern/],
    ['an unknown granularity', (d: Doc) => d.timeDimensions[0]!.granularities.push('fortnight'), /timeDimensions\[0\] \(occurredAt\)\.granularities\[5\]: must be equal to one of the allowed values/],
  ])('refuses %s, naming the entry', (_name, change, message) => {
    expect(modelWith(change)).toThrow(message);
  });
});
