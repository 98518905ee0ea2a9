import { DateTimeResolver } from 'graphql-scalars';
import type { Resolvers } from '../src/generated/graphql.ts';
import { analyticsResolvers } from './analytics.ts';
import { destinationResolvers } from './destinations.ts';
import { eventResolvers } from './events.ts';
import { healthResolvers } from './health.ts';
import { ingestResolvers } from './ingest.ts';
import { nodeResolvers } from './node.ts';
import { platformResolvers } from './platform.ts';
import { searchResolvers } from './search.ts';
import { tourResolvers } from './tours.ts';
import { userResolvers } from './users.ts';

/** Every domain's resolvers; `@graphql-tools/schema` merges them onto the SDL in schema/ (the `JSON` scalar, configured, is added by `buildSchema`). */
export const resolvers: Resolvers[] = [
  {
    DateTime: DateTimeResolver,
    EventType: { BOOKING: 'booking', VIEW: 'view', SEARCH: 'search', CLICK: 'click', CANCEL: 'cancel', REVIEW: 'review' },
    Interval: { DAY: 'day', WEEK: 'week', MONTH: 'month' },
    BackendRole: { LAKEHOUSE: 'lakehouse', ANALYTICS: 'analytics', SEARCH: 'search', CACHE: 'cache', BUS: 'bus' },
  },
  tourResolvers,
  destinationResolvers,
  eventResolvers,
  userResolvers,
  searchResolvers,
  analyticsResolvers,
  platformResolvers,
  healthResolvers,
  ingestResolvers,
  nodeResolvers,
];
