/**
 * Which lakehouse tables each field of the schema reads: the tags of a cached answer are the union
 * over the fields its operation selects (see operation-tables.ts), and a medallion commit that
 * changes a table invalidates exactly the answers tagged with it. Declared once, per schema
 * coordinate, next to nothing else: a test checks that every field with a resolver has an entry,
 * so a new field cannot escape invalidation; a field without one would be tagged
 * {@link ANY_TABLE} (invalidated by every commit).
 *
 * Derived copies are tagged with the tables they are derived from: the analytics role
 * (`analytics.events`, a view over `silver.events` embedded, a copy fed from it on ClickHouse;
 * `analytics.tours`, from `silver.tours` and `silver.destinations`) and the search index (tours
 * from `silver.tours` with destination names, events from `silver.events`).
 */

/** Tag of answers that may read any table (e.g. the list of every table): every commit invalidates them. */
export const ANY_TABLE = '*';

/**
 * Where each table of the analytics role comes from: embedded they are views over the lakehouse,
 * on ClickHouse copies the medallion feeds from it. A test checks every table of the analytics
 * model (src/analytics/model.yaml) is listed, with the tables its definition reads.
 */
export const ANALYTICS_SOURCES: Readonly<Record<string, readonly string[]>> = {
  'analytics.events': ['silver.events'],
  'analytics.tours': ['silver.tours', 'silver.destinations'],
  'analytics.users': ['gold.user_360'],
};

const ANALYTICS_EVENTS = ANALYTICS_SOURCES['analytics.events']!;
/** A question may join any dimension of the model. */
const ANALYTICS_ANY = [...new Set(Object.values(ANALYTICS_SOURCES).flat())];
const RECOMMENDATIONS = ['gold.recommendation_features', 'gold.tourism_analytics', 'silver.users', 'silver.tours'] as const;
const TOURS = ['silver.tours'] as const;
const DESTINATIONS = ['silver.destinations'] as const;
const EVENTS = ['silver.events'] as const;
/** `userExists`: a user is known from its profile row or its events. */
const USERS = ['silver.users', 'silver.events'] as const;
/** Nothing the medallion changes: computed from the parent object, the registry, or no data at all. */
const NONE = [] as const;

/** Tables read by each field with a resolver, by schema coordinate (`Type.field`). */
export const FIELD_TABLES: Readonly<Record<string, readonly string[]>> = {
  // Analytics role.
  'Query.regionalStats': ANALYTICS_EVENTS,
  'Query.revenueSeries': ANALYTICS_EVENTS,
  'Query.tourPopularity': ANALYTICS_EVENTS,
  'Query.analytics': ANALYTICS_ANY,
  'Tour.stats': ANALYTICS_EVENTS,
  // Gold.
  'Query.recommendations': RECOMMENDATIONS,
  'User.recommendations': RECOMMENDATIONS,
  'User.profile': ['gold.user_360'],
  // Silver (catalogue and events).
  'Query.tours': TOURS,
  'Query.tour': TOURS,
  'Query.destinations': DESTINATIONS,
  'Query.destination': DESTINATIONS,
  'Query.events': EVENTS,
  'Query.event': EVENTS,
  'Query.user': USERS,
  'Query.node': [...TOURS, ...DESTINATIONS, ...USERS, 'platform.pipeline_runs'],
  'Query.nodes': [...TOURS, ...DESTINATIONS, ...USERS, 'platform.pipeline_runs'],
  'Destination.tours': TOURS,
  'Tour.destination': DESTINATIONS,
  'Event.tour': TOURS,
  'TourPopularity.tour': TOURS,
  'Recommendation.tour': TOURS,
  'TourSearchHit.tour': TOURS,
  'User.bookings': EVENTS,
  // Search index.
  'Query.searchTours': [...TOURS, ...DESTINATIONS],
  'Query.searchEvents': EVENTS,
  // Platform metadata.
  'Query.platform': NONE,
  'Platform.dataSources': NONE,
  'Platform.pipelineRuns': ['platform.pipeline_runs'],
  'Platform.sourceExecutions': ['platform.source_executions'],
  'Platform.dataQuality': ['platform.data_quality'],
  'Platform.lineage': ['platform.data_lineage'],
  'Platform.quarantine': ['silver.quarantine'],
  'Platform.tables': [ANY_TABLE],
  'TableInfo.snapshots': [ANY_TABLE],
  'DataSource.executions': ['platform.source_executions'],
  'PipelineRun.sources': ['platform.source_executions'],
  // No table.
  'Query.ping': NONE,
  'Query.health': NONE,
  'Mutation.ingestEvent': NONE,
  'Mutation.ingestEvents': NONE,
  'Mutation.ingestRecords': NONE,
  'Mutation.runPipeline': NONE,
  'Subscription.eventIngested': NONE,
  'Subscription.pipelineRunFinished': NONE,
  // Computed from the parent object.
  'Destination.id': NONE,
  'Destination.destinationId': NONE,
  'Destination.coordinates': NONE,
  'Event.id': NONE,
  'Event.eventId': NONE,
  'DataSource.id': NONE,
  'DataSource.sourceId': NONE,
  'DataSource.name': NONE,
  'DataSource.type': NONE,
  'DataSource.contract': NONE,
  'DataSource.eventTypes': NONE,
  'PipelineRun.id': NONE,
  'PipelineRun.runId': NONE,
  'PipelineRun.durationMs': NONE,
  'QuarantinedRecord.record': NONE,
  'Tour.id': NONE,
  'Tour.tourId': NONE,
  'TourStats.conversion': NONE,
  'User.id': NONE,
  'User.userId': NONE,
  'UserProfile.totalSpend': NONE,
  'UserProfile.averageBookingValue': NONE,
  // The supergraph's entry points (federation): never cached, they may resolve any entity.
  'Query._entities': [ANY_TABLE],
  'Query._service': NONE,
};
