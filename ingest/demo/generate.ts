import { timestampValue, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import { isoNoZone } from '../../src/backends/lakehouse/queries.ts';
import type { DuckDbDatabase } from '../../src/backends/duckdb/database.ts';
import { ADJECTIVES, CATEGORIES, CURRENCY, DESTINATIONS, SOURCES } from './catalogue.ts';
import { pick, seededRandom, weightedPick } from './random.ts';

/** Options of the demo-data generator. */
export interface DemoDataOptions {
  /** PRNG seed: the same seed and scale give the same rows on every machine. */
  seed: number;
  /** Size multiplier: 1 ≈ 300 tours, 5,000 users, 50,000 events; events grow linearly. */
  scale: number;
  /** End of the year of events (exclusive). Default: today, 00:00 UTC. */
  anchor?: Date;
}

export interface DemoDataSummary {
  destinations: number;
  tours: number;
  users: number;
  events: number;
  anchor: Date;
  reused: boolean;
}

const DAY_MS = 86_400_000;
const EVENT_TYPES = ['view', 'search', 'click', 'booking', 'cancel', 'review'] as const;
const EVENT_WEIGHTS = [55, 14, 16, 10, 2, 3] as const;

/**
 * Builds the demo lakehouse (destinations, tours, users, a year of events) unless the database
 * already holds data: a first start builds it, later starts reuse it.
 */
export async function ensureDemoData(database: DuckDbDatabase, options: DemoDataOptions): Promise<DemoDataSummary> {
  const [existing] = await database.query(
    `SELECT (SELECT count(*) FROM silver.tours) AS tours, (SELECT count(*) FROM silver.users) AS users,
            (SELECT count(*) FROM silver.destinations) AS destinations, (SELECT count(*) FROM silver.events) AS events,
            (SELECT max(anchor) FROM platform.demo_data) AS anchor`,
    [],
    { timeoutMs: 60_000, onTimeout: () => new Error('timed out') },
  );
  if (existing && Number(existing['tours']) > 0) {
    return {
      destinations: Number(existing['destinations']),
      tours: Number(existing['tours']),
      users: Number(existing['users']),
      events: Number(existing['events']),
      anchor: existing['anchor'] instanceof Date ? existing['anchor'] : new Date(),
      reused: true,
    };
  }
  return database.withWriter((connection) => generate(connection, options));
}

async function generate(connection: DuckDBConnection, options: DemoDataOptions): Promise<DemoDataSummary> {
  const random = seededRandom(options.seed);
  const anchor = options.anchor ?? startOfUtcDay(new Date());
  const tourCount = Math.max(DESTINATIONS.length, Math.round(300 * Math.sqrt(options.scale)));
  const userCount = Math.max(10, Math.round(5_000 * options.scale));
  const eventCount = Math.max(100, Math.round(50_000 * options.scale));

  await connection.run('BEGIN TRANSACTION');
  try {
    // Destinations.
    const destinationRatings = new Map<string, number>();
    await append(connection, 'destinations', (row) => {
      for (const d of DESTINATIONS) {
        const rating = round(3.8 + random() * 1.2, 1);
        destinationRatings.set(d.id, rating);
        row(() => [d.id, d.name, d.countryCode, d.country, d.city, d.latitude, d.longitude, rating]);
      }
    });

    // Tours: every destination gets some, the rest spread at random.
    interface DemoTour { id: string; region: string; price: number; popularity: number; destination: string; category: string }
    const tours: DemoTour[] = [];
    await append(connection, 'tours', (row) => {
      for (let i = 0; i < tourCount; i += 1) {
        const destination = i < DESTINATIONS.length ? DESTINATIONS[i]! : pick(random, DESTINATIONS);
        const category = pick(random, CATEGORIES);
        const noun = pick(random, category.nouns);
        const adjective = pick(random, ADJECTIVES);
        const duration = category.name === 'cruise' || category.name === 'wellness' || category.name === 'trekking' ? 1 + Math.floor(random() * 5) : 1;
        const price = round(category.basePrice * (0.6 + random() * 1.2) * (duration > 1 ? duration * 0.8 : 1), 2);
        const rating = round(3.2 + random() * 1.8, 1);
        const tags = [...new Set([category.tags[0]!, pick(random, category.tags), pick(random, category.tags)])];
        const phrase = pick(random, category.phrases);
        const id = `TOUR${String(i + 1).padStart(4, '0')}`;
        const name = `${adjective} ${destination.name} ${noun}`;
        const description = `${duration > 1 ? `${duration} days` : 'A day'} in ${destination.name}, ${destination.country}: ${phrase}. ${capitalise(category.name)} tour with a local guide; ${tags.join(', ')}.`;
        const updatedAt = new Date(anchor.getTime() - Math.floor(random() * 90) * DAY_MS);
        tours.push({ id, region: destination.countryCode, price, popularity: random() ** 2, destination: destination.id, category: category.name });
        row(() => [id, name, destination.id, destination.countryCode, price, CURRENCY, rating, { int: duration }, category.name, { list: tags }, description, updatedAt]);
      }
    });

    // Users with a home region (weighted towards the bigger markets).
    const regions = [...new Set(DESTINATIONS.map((d) => d.countryCode))];
    const regionWeights = regions.map((r) => ({ VN: 6, TH: 5, JP: 4, ID: 3, MV: 2 })[r] ?? 1);
    const homeRegions: string[] = [];
    await append(connection, 'users', (row) => {
      for (let i = 0; i < userCount; i += 1) {
        const home = weightedPick(random, regions, regionWeights);
        homeRegions.push(home);
        const signedUp = new Date(anchor.getTime() - Math.floor(random() * 730) * DAY_MS);
        row(() => [userId(i), home, signedUp]);
      }
    });

    // Tours per region, most popular first, so a skewed index favours popular tours.
    const toursByRegion = new Map<string, DemoTour[]>();
    for (const tour of [...tours].sort((a, b) => b.popularity - a.popularity)) {
      toursByRegion.set(tour.region, [...(toursByRegion.get(tour.region) ?? []), tour]);
    }
    const popular = [...tours].sort((a, b) => b.popularity - a.popularity);

    // A year of events, day by day, in time order; weekends and the high season are busier.
    let sequence = 0;
    const dayWeights = Array.from({ length: 365 }, (_, d) => {
      const date = new Date(anchor.getTime() - (365 - d) * DAY_MS);
      const weekend = date.getUTCDay() === 0 || date.getUTCDay() === 6 ? 1.3 : 1;
      const season = 1 + 0.35 * Math.cos(((date.getUTCMonth() - 0.5) / 12) * 2 * Math.PI);
      return weekend * season;
    });
    const weightTotal = dayWeights.reduce((a, b) => a + b, 0);
    await append(connection, 'events', (row) => {
      for (let d = 0; d < 365; d += 1) {
        const dayStart = anchor.getTime() - (365 - d) * DAY_MS;
        const perDay = d === 364 ? eventCount - sequence : Math.round((eventCount * (dayWeights[d] ?? 1)) / weightTotal);
        const times = Array.from({ length: Math.max(0, perDay) }, () => dayStart + Math.floor(random() * DAY_MS)).sort((a, b) => a - b);
        for (const at of times) {
          const user = Math.floor(random() ** 2.2 * userCount);
          const home = homeRegions[user] ?? 'VN';
          const type = weightedPick(random, EVENT_TYPES, EVENT_WEIGHTS);
          const local = random() < 0.65 ? toursByRegion.get(home) : undefined;
          const candidates = local && local.length > 0 ? local : popular;
          const tour = candidates[Math.floor(random() ** 1.6 * candidates.length)]!;
          const id = `EVT${String(sequence + 1).padStart(9, '0')}`;
          sequence += 1;
          const source = pick(random, SOURCES);
          const topic = type === 'booking' ? 'topic_booking_events' : 'topic_user_events';
          if (type === 'search') {
            const category = pick(random, CATEGORIES).name;
            row(() => [id, userId(user), type, null, home, null, null, new Date(at), source, JSON.stringify({ query: `${category} ${home}` }), topic, null, null, null, null, null]);
          } else {
            const amount = type === 'booking' ? round(tour.price * (1 + Math.floor(random() * 3)), 2) : null;
            const payload = type === 'review' ? JSON.stringify({ rating: 1 + Math.floor(random() ** 0.5 * 5) }) : null;
            row(() => [id, userId(user), type, tour.id, tour.region, amount, amount === null ? null : CURRENCY, new Date(at), source, payload, topic, null, tour.destination, tour.category, null, null]);
          }
        }
      }
    });

    await connection.run('INSERT INTO platform.demo_data VALUES (?, ?, CAST(? AS TIMESTAMP), ?, now())', [
      options.seed,
      options.scale,
      isoNoZone(anchor),
      sequence,
    ]);
    await connection.run('COMMIT');
    return { destinations: DESTINATIONS.length, tours: tours.length, users: userCount, events: sequence, anchor, reused: false };
  } catch (error) {
    await connection.run('ROLLBACK');
    throw error;
  }
}

/** A cell: numbers are DOUBLE, `{ int }` INTEGER, `{ list }` VARCHAR[]. */
type Cell = string | number | Date | null | { list: string[] } | { int: number };

/** Appends rows to `silver.<table>`; each row callback yields its cells in column order. */
async function append(connection: DuckDBConnection, table: string, fill: (row: (cells: () => Cell[]) => void) => void): Promise<void> {
  const appender = await connection.createAppender(table, 'silver');
  try {
    fill((cells) => {
      for (const cell of cells()) appendCell(appender, cell);
      appender.endRow();
    });
  } finally {
    appender.closeSync();
  }
}

function appendCell(appender: DuckDBAppender, cell: Cell): void {
  if (cell === null) appender.appendNull();
  else if (typeof cell === 'string') appender.appendVarchar(cell);
  else if (typeof cell === 'number') appender.appendDouble(cell);
  else if (cell instanceof Date) appender.appendTimestamp(timestampValue(BigInt(cell.getTime()) * 1000n));
  else if ('int' in cell) appender.appendInteger(cell.int);
  else appender.appendList(cell.list);
}

function userId(index: number): string {
  return `USER${String(index + 1).padStart(6, '0')}`;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** 00:00 UTC of the day containing `date`. */
export function startOfUtcDay(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
}
