import type { Resolvers } from '../src/generated/graphql.ts';
import { eventsPage } from '../src/backends/lakehouse/queries.ts';
import { pageWindow } from '../src/pagination.ts';
import { roleAtLeast } from '../src/security/principal.ts';
import { eventConnection, eventSlice } from './connections.ts';

export const eventResolvers: Resolvers = {
  Query: {
    events: async (_, args, ctx) => {
      const page = await eventsPage(ctx.lakehouse, { ...eventSlice(pageWindow(args, ctx.services.config.maxPageSize)), filter: args.filter });
      return eventConnection(page);
    },
    event: async (_, args, ctx) => {
      const event = await ctx.loaders.eventById.load(args.id);
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
