import type { Resolvers, UserSegment } from '../src/generated/graphql.ts';
import type { UserProfileRow } from '../src/domain.ts';
import { pageSize, pageWindow } from '../src/pagination.ts';
import { eventConnection, eventSlice } from './connections.ts';

const DAY_MS = 86_400_000;

/** Segment rules: recency first (churned after 180 quiet days), then booking count and spend. */
export function segmentOf(profile: UserProfileRow, now = Date.now()): UserSegment {
  const quietDays = profile.lastEventAt ? (now - profile.lastEventAt.getTime()) / DAY_MS : Number.POSITIVE_INFINITY;
  if (quietDays > 180) return 'CHURNED';
  if (profile.totalBookings >= 5 || profile.totalSpend >= 2_000) return 'VIP';
  if (profile.totalBookings >= 2) return 'REGULAR';
  if (profile.totalBookings === 1) return 'OCCASIONAL';
  return 'NEW';
}

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
    segment: (p) => segmentOf(p),
  },
};
