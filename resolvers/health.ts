import type { Resolvers } from '../src/generated/graphql.ts';
import { overallHealth } from '../src/health-report.ts';

export const healthResolvers: Resolvers = {
  Query: {
    ping: () => true,
    health: async (_, __, ctx) => overallHealth(await ctx.services.backends.health()),
  },
};
