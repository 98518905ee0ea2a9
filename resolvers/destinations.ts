import type { Resolvers } from '../src/generated/graphql.ts';
import { destinationsPage } from '../src/backends/lakehouse/queries.ts';
import { pageSize } from '../src/pagination.ts';
import { afterId, idConnection } from './connections.ts';
import { selects } from './selection.ts';

export const destinationResolvers: Resolvers = {
  Query: {
    destinations: async (_, args, ctx, info) => {
      const first = pageSize(args.first, ctx.services.config.maxPageSize);
      const page = await destinationsPage(ctx.lakehouse, {
        filter: args.filter,
        first,
        afterId: afterId(args.after),
        withTotal: selects(info, 'totalCount'),
      });
      for (const destination of page.rows) ctx.loaders.destinationById.prime(destination.id, destination);
      return idConnection(page, args.after);
    },
    destination: (_, args, ctx) => ctx.loaders.destinationById.load(args.id),
  },
  Destination: {
    coordinates: (d) => (d.latitude === null || d.longitude === null ? null : { latitude: d.latitude, longitude: d.longitude }),
    tours: async (destination, args, ctx) => {
      const first = pageSize(args.first, ctx.services.config.maxPageSize);
      const page = await ctx.loaders.toursOfDestination.load({ parentId: destination.id, first, after: afterId(args.after) });
      return idConnection(page, args.after);
    },
  },
};
