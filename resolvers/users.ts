import type { Resolvers } from '../src/generated/graphql.ts';
import { pageSize, pageWindow } from '../src/pagination.ts';
import { eventConnection, eventSlice } from './connections.ts';

export const userResolvers: Resolvers = {
  Query: {
    user: async (_, args, ctx) => ((await ctx.loaders.userExists.load(args.id)) ? { id: args.id } : null),
  },
  User: {
    profile: (user, _, ctx) => ctx.loaders.userProfileById.load(user.id),
    bookings: async (user, args, ctx) => {
      const slice = eventSlice(pageWindow(args, ctx.services.config.maxPageSize));
      return eventConnection(await ctx.loaders.bookingsOfUser.load({ parentId: user.id, slice }));
    },
    recommendations: (user, args, ctx) =>
      ctx.loaders.recommendationsOfUser.load({ userId: user.id, first: pageSize(args.first, ctx.services.config.maxPageSize, 5) }),
  },
  UserProfile: {
    averageBookingValue: (p) => (p.totalBookings === 0 ? 0 : Math.round((p.totalSpend / p.totalBookings) * 100) / 100),
    totalSpend: (p) => Math.round(p.totalSpend * 100) / 100,
  },
};
