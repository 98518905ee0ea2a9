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

-- Analytics reads its own schema; embedded, it is a view over the silver events, so what the
-- medallion promotes is visible to analytics at once (ClickHouse loads the same rows).
CREATE OR REPLACE VIEW analytics.events AS
  SELECT event_id, user_id, event_type, tour_id, region, amount, currency, occurred_at, source
  FROM silver.events;
`;
