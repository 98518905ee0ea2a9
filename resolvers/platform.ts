import type { Resolvers } from '../src/generated/graphql.ts';
import { lineageOf, pipelineRuns, qualityOf, tableInfo } from '../src/backends/lakehouse/platform.ts';
import { pageSize } from '../src/pagination.ts';

export const platformResolvers: Resolvers = {
  Query: {
    platform: () => ({}),
  },
  Platform: {
    dataSources: (_, __, ctx) => [...ctx.services.registry.sources],
    pipelineRuns: (_, args, ctx) => pipelineRuns(ctx.lakehouse, pageSize(args.first, ctx.services.config.maxPageSize)),
    dataQuality: (_, __, ctx) => qualityOf(ctx.lakehouse),
    lineage: (_, __, ctx) => lineageOf(ctx.services.registry),
    tables: (_, __, ctx) => tableInfo(ctx.lakehouse),
  },
  DataSource: {
    id: (s) => s.sourceId,
    name: (s) => s.sourceName,
    type: (s) => s.sourceType,
    contract: (s) => s.contractFile,
  },
  Subscription: {
    pipelineRunFinished: {
      subscribe: (_, __, ctx) => {
        const pipeline = ctx.services.pipeline;
        if (!pipeline) throw new Error('no embedded pipeline runs in this gateway');
        return pipeline.subscribeRuns();
      },
      resolve: (run: unknown) => run as never,
    },
  },
};
