import type { Resolvers } from '../src/generated/graphql.ts';
import { pageWindow } from '../src/pagination.ts';
import { idConnection, idSlice } from './connections.ts';
import { selects } from './selection.ts';

export const destinationResolvers: Resolvers = {
  Query: {
    destinations: async (_, args, ctx, info) => {
      const page = await ctx.catalogue.destinationsPage({
        ...idSlice(pageWindow(args, ctx.services.config.maxPageSize)),
        filter: args.filter,
        withTotal: selects(info, 'totalCount'),
      });
      for (const destination of page.rows) ctx.loaders.destinationById.prime(destination.id, destination);
      return idConnection(page);
    },
    destination: (_, args, ctx) => ctx.loaders.destinationById.load(args.id),
  },
  Destination: {
    coordinates: (d) => (d.latitude === null || d.longitude === null ? null : { latitude: d.latitude, longitude: d.longitude }),
    tours: async (destination, args, ctx) => {
      const slice = idSlice(pageWindow(args, ctx.services.config.maxPageSize));
      return idConnection(await ctx.loaders.toursOfDestination.load({ parentId: destination.id, slice }));
    },
  },
};
