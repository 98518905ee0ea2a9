import type { Resolvers } from '../src/generated/graphql.ts';
import { GraphQLError } from 'graphql';
import { latestQuality, lineageOf, pipelineRuns, quarantined, sourceExecutions, tableInfo } from '../src/platform/metadata-reads.ts';
import { jsonOrText } from '../src/backends/lakehouse/rows.ts';
import { pageSize } from '../src/pagination.ts';
import { tableSnapshots } from '../src/backends/lakehouse/snapshots.ts';

export const platformResolvers: Resolvers = {
  Query: {
    platform: () => ({}),
  },
  Platform: {
    dataSources: (_, __, ctx) => [...ctx.services.registry.sources],
    pipelineRuns: (_, args, ctx) =>
      pipelineRuns(ctx.lakehouse, { first: pageSize(args.first, ctx.services.config.maxPageSize), layer: args.layer ?? null, status: args.status ?? null }),
    sourceExecutions: (_, args, ctx) =>
      sourceExecutions(ctx.lakehouse, { first: pageSize(args.first, ctx.services.config.maxPageSize), sourceId: args.sourceId ?? null }),
    dataQuality: (_, args, ctx) => latestQuality(ctx.lakehouse, { table: args.table ?? null }),
    lineage: (_, __, ctx) => lineageOf(ctx.lakehouse, ctx.services.registry),
    quarantine: (_, args, ctx) =>
      quarantined(ctx.lakehouse, { first: pageSize(args.first, ctx.services.config.maxPageSize), sourceId: args.sourceId ?? null, rule: args.rule ?? null }),
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
    name: (s) => s.sourceName,
    type: (s) => s.sourceType,
    contract: (s) => s.contractFile,
    eventTypes: (s) => [...s.eventTypes],
    executions: (s, args, ctx) => ctx.loaders.executionsOfSource.load({ sourceId: s.sourceId, first: pageSize(args.first, ctx.services.config.maxPageSize, 10) }),
  },
  PipelineRun: {
    durationMs: (run) => (run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : null),
    sources: (run, _, ctx) => ctx.loaders.sourceExecutionsOfRun.load(run.id),
  },
  QuarantinedRecord: {
    // A record that is not JSON (the rule it failed says so) is shown as the text it was.
    record: (q) => jsonOrText(q.record),
  },
  Mutation: {
    runPipeline: async (_, __, ctx) => {
      const pipeline = ctx.services.pipeline;
      if (!pipeline) {
        throw new GraphQLError('This gateway does not run the embedded medallion (the lakehouse is on Trino; the platform jobs run it).', {
          extensions: { code: 'BAD_USER_INPUT' },
        });
      }
      return pipeline.runNow('MANUAL');
    },
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
