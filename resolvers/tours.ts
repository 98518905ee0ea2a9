import type { Resolvers } from '../src/generated/graphql.ts';
import { toursByIds } from '../src/backends/lakehouse/queries.ts';
import { pageWindow } from '../src/pagination.ts';
import { idConnection, idSlice } from './connections.ts';
import { selects } from './selection.ts';
import { andThen } from '../src/catalogue/reads.ts';

export const tourResolvers: Resolvers = {
  Query: {
    tours: (_, args, ctx, info) => {
      const inProcess = ctx.catalogue.inProcess;
      const page = ctx.catalogue.toursPage({
        ...idSlice(pageWindow(args, ctx.services.config.maxPageSize)),
        filter: args.filter,
        asOf: args.asOf,
        withTotal: selects(info, 'totalCount'),
      });
      return andThen(page, (read) => {
        // Rows read from the lakehouse serve the request's later lookups of them (the replica needs no help).
        if (!inProcess && !args.asOf) for (const tour of read.rows) ctx.loaders.tourById.prime(tour.id, tour);
        return idConnection(read);
      });
    },
    tour: async (_, args, ctx) => {
      if (args.asOf) return (await toursByIds(ctx.lakehouse, [args.id], args.asOf))[0] ?? null;
      return ctx.catalogue.tourNow(args.id) ?? ctx.loaders.tourById.load(args.id);
    },
  },
  Tour: {
    destination: (tour, _, ctx) => {
      if (!tour.destinationId) return null;
      const now = ctx.catalogue.destinationNow(tour.destinationId);
      return now !== undefined ? now : ctx.loaders.destinationById.load(tour.destinationId);
    },
    stats: (tour, _, ctx) => ctx.loaders.tourStatsById.load(tour.id),
  },
  TourStats: {
    conversion: (stats) => (stats.views === 0 ? 0 : Math.round((stats.bookings / stats.views) * 10_000) / 10_000),
  },
};
