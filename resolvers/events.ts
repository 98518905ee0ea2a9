import type { Resolvers } from '../src/generated/graphql.ts';
import { eventsPage } from '../src/backends/lakehouse/queries.ts';
import { pageSize } from '../src/pagination.ts';
import { roleAtLeast } from '../src/security/principal.ts';
import { eventConnection, eventPosition } from './connections.ts';

export const eventResolvers: Resolvers = {
  Query: {
    events: async (_, args, ctx) => {
      const first = pageSize(args.first, ctx.services.config.maxPageSize);
      const page = await eventsPage(ctx.lakehouse, { filter: args.filter, first, after: eventPosition(args.after) });
      return eventConnection(page, args.after);
    },
    event: async (_, args, ctx) => {
      const [event] = (await eventsPage(ctx.lakehouse, { filter: { ids: [args.id] }, first: 1 })).rows;
      if (!event) return null;
      // Whose event it is is known only once read, so `@auth(ownUser:)` cannot say it: below
      // analyst another user's event answers as an unknown id would, confirming nothing.
      const { principal } = ctx;
      return roleAtLeast(principal.role, 'analyst') || (principal.userId !== null && principal.userId === event.userId) ? event : null;
    },
  },
  Event: {
    tour: (event, _, ctx) => (event.tourId ? ctx.loaders.tourById.load(event.tourId) : null),
  },
};
