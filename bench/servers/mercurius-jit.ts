/**
 * Baseline C: mercurius (Fastify) with graphql-jit, serving the catalogue's tour lists from memory:
 * the tours and destinations of `BENCH_DUCKDB_FILE` (opened read-only) are read once at start,
 * and every answer is computed from those arrays. It is the fastest way this stack knows to answer
 * the same list; the catalogue scenario holds the gateway to a share of it. It filters with the
 * same in-memory reads the gateway's catalogue replica uses and encodes ids and cursors the same
 * way, so both servers give the same answer to every request (the scenario checks that).
 */
import Fastify from 'fastify';
import mercurius from 'mercurius';
import { DuckDBInstance } from '@duckdb/node-api';
import type { TourFilterInput } from '../../src/backends/lakehouse/queries.ts';
import { DESTINATION_COLUMNS, TOUR_COLUMNS, destinationFromRow, tourFromRow } from '../../src/backends/lakehouse/rows.ts';
import { CatalogueSnapshot } from '../../src/catalogue/snapshot.ts';
import type { DestinationRow, TourRow } from '../../src/domain.ts';
import { encodeGlobalId } from '../../src/global-id.ts';
import { decodeCursor, encodeCursor } from '../../src/pagination.ts';

const file = process.env['BENCH_DUCKDB_FILE'];
if (!file) throw new Error('BENCH_DUCKDB_FILE must name the gateway-built DuckDB file');

const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
const connection = await instance.connect();
const rows = async (sql: string) => (await connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
const snapshot = new CatalogueSnapshot(
  (await rows(`SELECT ${TOUR_COLUMNS} FROM silver.tours`)).map(tourFromRow),
  (await rows(`SELECT ${DESTINATION_COLUMNS} FROM silver.destinations`)).map(destinationFromRow),
);
connection.closeSync();
instance.closeSync();

const schema = `
  type Query { tours(first: Int = 20, after: String, filter: TourFilter): TourConnection! }
  input TourFilter {
    regions: [String!]
    destinationId: ID
    categories: [String!]
    minPrice: Float
    maxPrice: Float
    minRating: Float
    tags: [String!]
  }
  type TourConnection { edges: [TourEdge!]!  pageInfo: PageInfo!  totalCount: Int! }
  type TourEdge { cursor: String!  node: Tour! }
  type PageInfo { hasNextPage: Boolean!  hasPreviousPage: Boolean!  startCursor: String  endCursor: String }
  type Tour {
    id: ID!
    tourId: ID!
    name: String!
    region: String!
    destination: Destination
    price: Float!
    currency: String!
    rating: Float
    durationDays: Int!
    category: String!
    tags: [String!]!
    description: String
  }
  type Destination { id: ID!  destinationId: ID!  name: String!  countryCode: String!  city: String! }
`;

const resolvers = {
  Query: {
    tours: (_: unknown, args: { first: number; after?: string | null; filter?: TourFilterInput | null }) => {
      const afterId = args.after ? decodeCursor(args.after, ['string'] as const, 'after')[0] : null;
      const page = snapshot.toursPage({ first: args.first, afterId, filter: args.filter ?? null, withTotal: true });
      const edges = page.rows.map((node) => ({ cursor: encodeCursor([node.id]), node }));
      return {
        edges,
        totalCount: page.totalCount,
        pageInfo: {
          hasNextPage: page.hasNextPage,
          hasPreviousPage: page.hasPreviousPage,
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
      };
    },
  },
  Tour: {
    id: (tour: TourRow) => encodeGlobalId('Tour', tour.id),
    tourId: (tour: TourRow) => tour.id,
    destination: (tour: TourRow) => (tour.destinationId ? (snapshot.destinationsByIds([tour.destinationId])[0] ?? null) : null),
  },
  Destination: {
    id: (destination: DestinationRow) => encodeGlobalId('Destination', destination.id),
    destinationId: (destination: DestinationRow) => destination.id,
  },
};

const app = Fastify({ logger: false });
// jit: 1 compiles a query with graphql-jit from its first execution on.
await app.register(mercurius, { schema, resolvers, jit: 1 });
const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ benchReady: true, url: address })}\n`);

process.once('SIGTERM', () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
