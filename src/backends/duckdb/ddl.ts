import { DIMENSION_TABLES } from '../analytics/dimensions.ts';

/**
 * Tables of the embedded lakehouse, in the medallion layout the platform uses on Iceberg
 * (schemas `bronze`, `silver`, `gold`, `platform`) plus `analytics`, the analytics role's own
 * schema. Column types are the portable subset Trino's Iceberg connector also has.
 */
export const LAKEHOUSE_DDL = `
CREATE SCHEMA IF NOT EXISTS bronze;
CREATE SCHEMA IF NOT EXISTS silver;
CREATE SCHEMA IF NOT EXISTS gold;
CREATE SCHEMA IF NOT EXISTS platform;
CREATE SCHEMA IF NOT EXISTS analytics;

-- The durable event log of the embedded bus: every accepted event, as published.
CREATE TABLE IF NOT EXISTS bronze.event_log (
  log_offset BIGINT NOT NULL,
  topic VARCHAR NOT NULL,
  log_partition INTEGER NOT NULL,
  event_key VARCHAR NOT NULL,
  event_id VARCHAR NOT NULL,
  idempotency_key VARCHAR,
  value VARCHAR NOT NULL,
  published_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS silver.destinations (
  destination_id VARCHAR PRIMARY KEY,
  name VARCHAR NOT NULL,
  country_code VARCHAR NOT NULL,
  country VARCHAR NOT NULL,
  city VARCHAR NOT NULL,
  latitude DOUBLE,
  longitude DOUBLE,
  rating DOUBLE
);

CREATE TABLE IF NOT EXISTS silver.tours (
  tour_id VARCHAR PRIMARY KEY,
  name VARCHAR NOT NULL,
  destination_id VARCHAR,
  region VARCHAR NOT NULL,
  price DOUBLE NOT NULL,
  currency VARCHAR NOT NULL,
  rating DOUBLE,
  duration_days INTEGER NOT NULL,
  category VARCHAR NOT NULL,
  tags VARCHAR[] NOT NULL,
  description VARCHAR,
  updated_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS silver.users (
  user_id VARCHAR PRIMARY KEY,
  home_region VARCHAR NOT NULL,
  signed_up_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS silver.events (
  event_id VARCHAR NOT NULL,
  user_id VARCHAR NOT NULL,
  event_type VARCHAR NOT NULL,
  tour_id VARCHAR,
  region VARCHAR,
  amount DOUBLE,
  currency VARCHAR,
  occurred_at TIMESTAMP NOT NULL,
  source VARCHAR NOT NULL,
  payload VARCHAR,
  topic VARCHAR,
  log_offset BIGINT
);

CREATE TABLE IF NOT EXISTS platform.pipeline_runs (
  run_id VARCHAR PRIMARY KEY,
  layer VARCHAR NOT NULL,
  status VARCHAR NOT NULL,
  started_at TIMESTAMP NOT NULL,
  finished_at TIMESTAMP,
  records_in BIGINT NOT NULL,
  records_out BIGINT NOT NULL,
  records_rejected BIGINT NOT NULL,
  error VARCHAR
);

CREATE TABLE IF NOT EXISTS platform.watermarks (
  pipeline VARCHAR PRIMARY KEY,
  log_offset BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS platform.data_quality (
  table_name VARCHAR NOT NULL,
  measured_at TIMESTAMP NOT NULL,
  row_count BIGINT NOT NULL,
  completeness DOUBLE NOT NULL,
  uniqueness DOUBLE NOT NULL,
  validity DOUBLE NOT NULL,
  overall_score DOUBLE NOT NULL
);

CREATE TABLE IF NOT EXISTS platform.demo_data (
  seed INTEGER NOT NULL,
  scale DOUBLE NOT NULL,
  anchor TIMESTAMP NOT NULL,
  events BIGINT NOT NULL,
  built_at TIMESTAMP NOT NULL
);

-- Silver events are enriched with their tour's destination and category (older files gain the columns).
ALTER TABLE silver.events ADD COLUMN IF NOT EXISTS destination_id VARCHAR;
ALTER TABLE silver.events ADD COLUMN IF NOT EXISTS tour_category VARCHAR;
-- Order in which the medallion promoted rows (NULL for rows loaded otherwise): gold's watermark.
ALTER TABLE silver.events ADD COLUMN IF NOT EXISTS promoted_seq BIGINT;
-- The bus position the event was read at (\`Event.offset\`: an offset on the embedded log, a cursor on Kafka).
ALTER TABLE silver.events ADD COLUMN IF NOT EXISTS log_cursor VARCHAR;

-- Records the silver step refused, with the business rule they failed (also sent to the DLQ topic).
CREATE TABLE IF NOT EXISTS silver.quarantine (
  event_id VARCHAR,
  source_id VARCHAR,
  bronze_table VARCHAR NOT NULL,
  target_table VARCHAR NOT NULL,
  rule VARCHAR NOT NULL,
  reason VARCHAR NOT NULL,
  record VARCHAR NOT NULL,
  run_id VARCHAR NOT NULL,
  quarantined_at TIMESTAMP NOT NULL,
  dead_lettered BOOLEAN NOT NULL DEFAULT false
);
-- The bus position of the refused record: with its bronze table, the key that keeps a replayed pass from quarantining it twice.
ALTER TABLE silver.quarantine ADD COLUMN IF NOT EXISTS log_cursor VARCHAR;

-- Gold: what the gateway's profiles and recommendations read, refreshed per run for the keys it touched.
CREATE TABLE IF NOT EXISTS gold.user_360 (
  user_id VARCHAR PRIMARY KEY,
  home_region VARCHAR,
  total_events BIGINT NOT NULL,
  total_bookings BIGINT NOT NULL,
  total_spend DOUBLE NOT NULL,
  average_booking_value DOUBLE NOT NULL,
  favourite_region VARCHAR,
  favourite_category VARCHAR,
  last_booking_at TIMESTAMP,
  last_event_at TIMESTAMP,
  updated_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS gold.booking_metrics (
  metric_date DATE NOT NULL,
  region VARCHAR NOT NULL,
  bookings BIGINT NOT NULL,
  cancellations BIGINT NOT NULL,
  revenue DOUBLE NOT NULL,
  average_amount DOUBLE NOT NULL,
  unique_customers BIGINT NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  PRIMARY KEY (metric_date, region)
);

-- One row per user and feature (feature: region, category, booked_tour, price): long, so any
-- number of regions or categories fits and a user's rows are replaced as a unit.
CREATE TABLE IF NOT EXISTS gold.recommendation_features (
  user_id VARCHAR NOT NULL,
  feature VARCHAR NOT NULL,
  feature_value VARCHAR NOT NULL,
  weight DOUBLE NOT NULL,
  updated_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS gold.tourism_analytics (
  tour_id VARCHAR PRIMARY KEY,
  region VARCHAR NOT NULL,
  destination_id VARCHAR,
  category VARCHAR NOT NULL,
  views BIGINT NOT NULL,
  clicks BIGINT NOT NULL,
  bookings BIGINT NOT NULL,
  cancellations BIGINT NOT NULL,
  revenue DOUBLE NOT NULL,
  conversion_rate DOUBLE NOT NULL,
  rating DOUBLE,
  updated_at TIMESTAMP NOT NULL
);

-- Run metadata: what every medallion run did, per source, to quality and to lineage.
ALTER TABLE platform.pipeline_runs ADD COLUMN IF NOT EXISTS batch_id VARCHAR;
ALTER TABLE platform.pipeline_runs ADD COLUMN IF NOT EXISTS run_trigger VARCHAR;

CREATE TABLE IF NOT EXISTS platform.source_executions (
  run_id VARCHAR NOT NULL,
  batch_id VARCHAR NOT NULL,
  source_id VARCHAR NOT NULL,
  layer VARCHAR NOT NULL,
  target_table VARCHAR NOT NULL,
  records_in BIGINT NOT NULL,
  records_out BIGINT NOT NULL,
  records_rejected BIGINT NOT NULL,
  started_at TIMESTAMP NOT NULL,
  finished_at TIMESTAMP NOT NULL
);

ALTER TABLE platform.data_quality ADD COLUMN IF NOT EXISTS source_id VARCHAR;
ALTER TABLE platform.data_quality ADD COLUMN IF NOT EXISTS run_id VARCHAR;

CREATE TABLE IF NOT EXISTS platform.data_lineage (
  from_node VARCHAR NOT NULL,
  to_node VARCHAR NOT NULL,
  kind VARCHAR NOT NULL,
  source_id VARCHAR,
  records BIGINT NOT NULL,
  last_run_id VARCHAR,
  last_run_at TIMESTAMP,
  PRIMARY KEY (from_node, to_node)
);

-- Resume positions: a bus cursor for landing, a bronze sequence for each downstream step.
ALTER TABLE platform.watermarks ADD COLUMN IF NOT EXISTS position VARCHAR;

-- Analytics reads its own schema; embedded, it is a view over the silver events, so what the
-- medallion promotes is visible to analytics at once (ClickHouse loads the same rows).
CREATE OR REPLACE VIEW analytics.events AS
  SELECT event_id, user_id, event_type, tour_id, region, amount, currency, occurred_at, source
  FROM silver.events;

-- The analytics model's dimension tables (src/backends/analytics/dimensions.ts), views here too.
${DIMENSION_TABLES.map((table) => `CREATE OR REPLACE VIEW ${table.name} AS ${table.query};`).join('\n')}
`;
