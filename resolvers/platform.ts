import type { Resolvers } from '../src/generated/graphql.ts';
import { lineageOf, pipelineRuns, qualityOf, tableInfo } from '../src/backends/lakehouse/platform.ts';
import { pageSize } from '../src/pagination.ts';
import { tableSnapshots } from '../src/backends/lakehouse/snapshots.ts';

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
  TableInfo: {
    snapshots: async (table, args, ctx) => {
      const snapshots = await tableSnapshots(ctx.lakehouse, table.name);
      return [...snapshots]
        .sort((a, b) => b.committedAt.getTime() - a.committedAt.getTime())
        .slice(0, pageSize(args.first, ctx.services.config.maxPageSize, 5))
        .map((s) => ({
          id: s.snapshotId,
          committedAt: s.committedAt,
          operation: s.operation,
          addedRecords: s.summary['added-records'] === undefined ? null : Number(s.summary['added-records']),
          totalRecords: s.summary['total-records'] === undefined ? null : Number(s.summary['total-records']),
        }));
    },
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
