import type { Resolvers } from '../src/generated/graphql.ts';
import { pageWindow } from '../src/pagination.ts';
import { idConnection, idSlice } from './connections.ts';
import { selects } from './selection.ts';
import { andThen } from '../src/catalogue/reads.ts';

export const destinationResolvers: Resolvers = {
  Query: {
    destinations: (_, args, ctx, info) => {
      const inProcess = ctx.catalogue.inProcess;
      const page = ctx.catalogue.destinationsPage({
        ...idSlice(pageWindow(args, ctx.services.config.maxPageSize)),
        filter: args.filter,
        withTotal: selects(info, 'totalCount'),
      });
      return andThen(page, (read) => {
        if (!inProcess) for (const destination of read.rows) ctx.loaders.destinationById.prime(destination.id, destination);
        return idConnection(read);
      });
    },
    destination: (_, args, ctx) => {
      const now = ctx.catalogue.destinationNow(args.id);
      return now !== undefined ? now : ctx.loaders.destinationById.load(args.id);
    },
  },
  Destination: {
    coordinates: (d) => (d.latitude === null || d.longitude === null ? null : { latitude: d.latitude, longitude: d.longitude }),
    tours: async (destination, args, ctx) => {
      const slice = idSlice(pageWindow(args, ctx.services.config.maxPageSize));
      return idConnection(await ctx.loaders.toursOfDestination.load({ parentId: destination.id, slice }));
    },
  },
};
