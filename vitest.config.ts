import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Suites share one machine's DuckDB files and service peers; files run in parallel workers,
    // each suite builds its own data directory.
    pool: 'forks',
  },
});
