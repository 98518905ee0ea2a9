import type { Resolvers } from '../src/generated/graphql.ts';
import { decodeCursor, encodeCursor, pageSize } from '../src/pagination.ts';
import { userInputError } from '../src/errors.ts';
import { eventConnection, eventPosition } from './connections.ts';

export const searchResolvers: Resolvers = {
  Query: {
    searchTours: async (_, args, ctx) => {
      const first = pageSize(args.first, ctx.services.config.maxPageSize);
      const query = args.query.trim();
      if (query.length === 0) throw userInputError('Argument "query" must contain at least one word.', { argumentName: 'query' });
      if (query.length > 200) throw userInputError('Argument "query" must be at most 200 characters.', { argumentName: 'query' });
      // Hits are ranked, not keyed: the cursor is the hit's position.
      const offset = args.after == null ? 0 : decodeCursor(args.after, ['number'] as const)[0] + 1;
      const result = await ctx.search.searchTours({ query, filter: args.filter, first, offset });
      const edges = result.hits.map((hit, i) => ({ cursor: encodeCursor([offset + i]), node: hit }));
      return {
        edges,
        total: result.total,
        facets: result.facets,
        pageInfo: {
          hasNextPage: result.hasNextPage,
          hasPreviousPage: offset > 0,
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges[edges.length - 1]?.cursor ?? null,
        },
      };
    },
    searchEvents: async (_, args, ctx) => {
      const first = pageSize(args.first, ctx.services.config.maxPageSize);
      const result = await ctx.search.searchEvents({ filter: args.filters ?? {}, first, after: eventPosition(args.after) });
      return eventConnection({ rows: result.rows, hasNextPage: result.hasNextPage, hasPreviousPage: args.after != null, totalCount: result.total });
    },
  },
  TourSearchHit: {
    tour: async (hit, _, ctx) => {
      const tour = await ctx.loaders.tourById.load(hit.tourId);
      if (!tour) throw new Error(`search index returned tour ${hit.tourId}, which the lakehouse does not have`);
      return tour;
    },
  },
};
