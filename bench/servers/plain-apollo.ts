import { availableParallelism } from 'node:os';
/**
 * Baseline B: a plain Apollo Server 5 (`startStandaloneServer`, default plugins) over the same
 * demo data, opened read-only from `BENCH_DUCKDB_FILE`. Resolvers are the naive kind: every
 * field that needs data runs its own statement, so a list of 50 tours with destination and stats
 * costs 1 + 50 + 50 statements. It gets the same four-connection read pool as the gateway, so the
 * difference measured is the gateway's execution path and loaders, not the engine.
 */
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';

const file = process.env['BENCH_DUCKDB_FILE'];
if (!file) throw new Error('BENCH_DUCKDB_FILE must name the gateway-built DuckDB file');

const typeDefs = `#graphql
  type Query {
    hello: String
    tours(first: Int = 20): TourConnection!
    tour(id: ID!): Tour
  }
  type TourConnection { edges: [TourEdge!]!  totalCount: Int! }
  type TourEdge { node: Tour! }
  type Tour {
    id: ID!
    name: String!
    region: String!
    price: Float!
    currency: String!
    rating: Float
    destination: Destination
    stats: TourStats
  }
  type Destination { id: ID!  name: String!  countryCode: String! }
  type TourStats { bookings: Int!  revenue: Float!  views: Int! }
`;

interface TourRecord {
  id: string;
  name: string;
  region: string;
  price: number;
  currency: string;
  rating: number | null;
  destinationId: string | null;
}

/** Connections used one statement at a time, like the gateway's read pool. */
class ReadPool {
  private readonly idle: DuckDBConnection[];
  private readonly waiting: ((connection: DuckDBConnection) => void)[] = [];

  constructor(connections: DuckDBConnection[]) {
    this.idle = connections;
  }

  async rows(sql: string, params: DuckDBValue[] = []): Promise<Record<string, unknown>[]> {
    const connection = this.idle.pop() ?? (await new Promise<DuckDBConnection>((resolve) => this.waiting.push(resolve)));
    try {
      return (await connection.runAndReadAll(sql, params)).getRowObjectsJS();
    } finally {
      const next = this.waiting.shift();
      if (next) next(connection);
      else this.idle.push(connection);
    }
  }
}

// Same DuckDB sizing as the gateway (threads = cores this process may use), so the comparison is of the GraphQL layers.
const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY', threads: String(availableParallelism()) });
const pool = new ReadPool(await Promise.all([1, 2, 3, 4].map(() => instance.connect())));

const TOUR_SQL = 'SELECT tour_id, name, region, price, currency, rating, destination_id FROM silver.tours';
const tourOf = (row: Record<string, unknown>): TourRecord => ({
  id: String(row['tour_id']),
  name: String(row['name']),
  region: String(row['region']),
  price: Number(row['price']),
  currency: String(row['currency']),
  rating: row['rating'] === null ? null : Number(row['rating']),
  destinationId: row['destination_id'] === null ? null : String(row['destination_id']),
});

const resolvers = {
  Query: {
    hello: () => 'world',
    tours: async (_: unknown, args: { first: number }) => {
      const rows = await pool.rows(`${TOUR_SQL} ORDER BY tour_id LIMIT ?`, [args.first]);
      return { edges: rows.map((row) => ({ node: tourOf(row) })) };
    },
    tour: async (_: unknown, args: { id: string }) => {
      const [row] = await pool.rows(`${TOUR_SQL} WHERE tour_id = ?`, [args.id]);
      return row ? tourOf(row) : null;
    },
  },
  TourConnection: {
    totalCount: async () => Number((await pool.rows('SELECT count(*) AS n FROM silver.tours'))[0]?.['n'] ?? 0),
  },
  Tour: {
    destination: async (tour: TourRecord) => {
      if (tour.destinationId === null) return null;
      const [row] = await pool.rows('SELECT destination_id, name, country_code FROM silver.destinations WHERE destination_id = ?', [
        tour.destinationId,
      ]);
      return row ? { id: String(row['destination_id']), name: String(row['name']), countryCode: String(row['country_code']) } : null;
    },
    // The same aggregate the gateway's analytics role runs, for one tour at a time.
    stats: async (tour: TourRecord) => {
      const [row] = await pool.rows(
        `SELECT sum(CASE WHEN event_type = 'booking' THEN 1 ELSE 0 END) AS bookings,
                sum(CASE WHEN event_type = 'booking' THEN coalesce(amount, 0) ELSE 0 END) AS revenue,
                sum(CASE WHEN event_type = 'view' THEN 1 ELSE 0 END) AS views
         FROM analytics.events WHERE tour_id = ?`,
        [tour.id],
      );
      return {
        bookings: Number(row?.['bookings'] ?? 0),
        revenue: Math.round(Number(row?.['revenue'] ?? 0) * 100) / 100,
        views: Number(row?.['views'] ?? 0),
      };
    },
  },
};

// Its own SIGTERM handling would re-raise the signal before the DuckDB instance is closed.
const server = new ApolloServer({ typeDefs, resolvers, stopOnTerminationSignals: false });
const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
process.stdout.write(`${JSON.stringify({ benchReady: true, url: url.replace(/\/$/, '') })}\n`);

process.once('SIGTERM', () => {
  server.stop().then(
    () => {
      instance.closeSync();
      process.exit(0);
    },
    () => process.exit(1),
  );
});
