import type { Resolvers } from '../src/generated/graphql.ts';
import { eventsPage } from '../src/backends/lakehouse/queries.ts';
import { pageSize } from '../src/pagination.ts';
import { eventConnection, eventPosition } from './connections.ts';

export const eventResolvers: Resolvers = {
  Query: {
    events: async (_, args, ctx) => {
      const first = pageSize(args.first, ctx.services.config.maxPageSize);
      const page = await eventsPage(ctx.lakehouse, { filter: args.filter, first, after: eventPosition(args.after) });
      return eventConnection(page, args.after);
    },
  },
  Event: {
    tour: (event, _, ctx) => (event.tourId ? ctx.loaders.tourById.load(event.tourId) : null),
  },
};
