import type { Resolvers } from '../src/generated/graphql.ts';
import { eventsPage } from '../src/backends/lakehouse/queries.ts';
import { pageWindow } from '../src/pagination.ts';
import { eventConnection, eventSlice } from './connections.ts';

export const eventResolvers: Resolvers = {
  Query: {
    events: async (_, args, ctx) => {
      const page = await eventsPage(ctx.lakehouse, { ...eventSlice(pageWindow(args, ctx.services.config.maxPageSize)), filter: args.filter });
      return eventConnection(page);
    },
  },
  Event: {
    tour: (event, _, ctx) => (event.tourId ? ctx.loaders.tourById.load(event.tourId) : null),
  },
};
