import type { Resolvers } from '../src/generated/graphql.ts';
import { toursByIds } from '../src/backends/lakehouse/queries.ts';
import { pageWindow } from '../src/pagination.ts';
import { idConnection, idSlice } from './connections.ts';
import { selects } from './selection.ts';

export const tourResolvers: Resolvers = {
  Query: {
    tours: async (_, args, ctx, info) => {
      const page = await ctx.catalogue.toursPage({
        ...idSlice(pageWindow(args, ctx.services.config.maxPageSize)),
        filter: args.filter,
        asOf: args.asOf,
        withTotal: selects(info, 'totalCount'),
      });
      for (const tour of page.rows) ctx.loaders.tourById.prime(tour.id, tour);
      return idConnection(page);
    },
    tour: async (_, args, ctx) => {
      if (args.asOf) return (await toursByIds(ctx.lakehouse, [args.id], args.asOf))[0] ?? null;
      return ctx.loaders.tourById.load(args.id);
    },
  },
  Tour: {
    destination: (tour, _, ctx) => (tour.destinationId ? ctx.loaders.destinationById.load(tour.destinationId) : null),
    stats: (tour, _, ctx) => ctx.loaders.tourStatsById.load(tour.id),
  },
  TourStats: {
    conversion: (stats) => (stats.views === 0 ? 0 : Math.round((stats.bookings / stats.views) * 10_000) / 10_000),
  },
};
