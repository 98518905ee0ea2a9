import type { Resolvers, TimeWindow } from '../src/generated/graphql.ts';
import { regionalStats, revenueSeries, tourPopularity } from '../src/backends/analytics/queries.ts';
import { answerQuestion } from '../src/analytics/answer.ts';
import { analyticsModel } from '../src/analytics/default-model.ts';
import { questionOf } from '../src/analytics/question.ts';
import { selectedBelow } from './selection.ts';
import { roleAtLeast } from '../src/security/principal.ts';
import { userInputError } from '../src/errors.ts';
import { pageSize } from '../src/pagination.ts';

const WINDOW_MS: Record<TimeWindow, number | null> = {
  LAST_24_HOURS: 86_400_000,
  LAST_7_DAYS: 7 * 86_400_000,
  LAST_30_DAYS: 30 * 86_400_000,
  LAST_365_DAYS: 365 * 86_400_000,
  ALL_TIME: null,
};

/** Most buckets one series may have (a daily series over ~3 years). */
const MAX_BUCKETS = 1_100;

function checkRange(from: Date | null | undefined, to: Date | null | undefined): void {
  if (from && to && from.getTime() >= to.getTime()) {
    throw userInputError(`"from" (${from.toISOString()}) must be before "to" (${to.toISOString()}).`, { argumentName: 'from' });
  }
}

export const analyticsResolvers: Resolvers = {
  Query: {
    regionalStats: (_, args, ctx) => {
      checkRange(args.from, args.to);
      return regionalStats(ctx.analytics, { from: args.from, to: args.to, regions: args.regions });
    },
    revenueSeries: (_, args, ctx) => {
      checkRange(args.from, args.to);
      const bucketMs = { day: 86_400_000, week: 7 * 86_400_000, month: 28 * 86_400_000 }[args.interval];
      const buckets = (args.to.getTime() - args.from.getTime()) / bucketMs;
      if (buckets > MAX_BUCKETS) {
        throw userInputError(`The range holds about ${Math.ceil(buckets)} ${args.interval} buckets; at most ${MAX_BUCKETS} are allowed.`, {
          argumentName: 'interval',
        });
      }
      return revenueSeries(ctx.analytics, { interval: args.interval, from: args.from, to: args.to, region: args.region });
    },
    tourPopularity: (_, args, ctx) => {
      const windowMs = WINDOW_MS[args.window];
      const since = windowMs === null ? null : new Date(Date.now() - windowMs);
      return tourPopularity(ctx.analytics, { since, first: pageSize(args.first, ctx.services.config.maxPageSize, 10) });
    },
    analytics: (_, args, ctx, info) => {
      const question = questionOf(analyticsModel, args.query, ctx.principal, selectedBelow(info, 'rows'));
      const budgets = ctx.services.config.analyticsMaxRows;
      return answerQuestion(ctx.analytics, analyticsModel, question, {
        maxRows: roleAtLeast(ctx.principal.role, 'analyst') ? budgets.analyst : budgets.app,
        engineKey: ctx.services.backends.analytics,
      });
    },
    recommendations: (_, args, ctx) =>
      ctx.loaders.recommendationsOfUser.load({ userId: args.userId, first: pageSize(args.first, ctx.services.config.maxPageSize, 5) }),
  },
  TourPopularity: {
    tour: async (row, _, ctx) => {
      const tour = await ctx.loaders.tourById.load(row.tourId);
      if (!tour) throw new Error(`analytics knows tour ${row.tourId}, the lakehouse does not`);
      return tour;
    },
  },
  Recommendation: {
    tour: async (row, _, ctx) => {
      const tour = await ctx.loaders.tourById.load(row.tourId);
      if (!tour) throw new Error(`recommended tour ${row.tourId} is not in the lakehouse`);
      return tour;
    },
  },
};
