import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createEmbeddedLog } from '../../src/backends/bus/embedded-log.ts';
import { createLruCache } from '../../src/backends/cache/lru.ts';
import { DuckDbDatabase } from '../../src/backends/duckdb/database.ts';
import { LAKEHOUSE_DDL } from '../../src/backends/duckdb/ddl.ts';
import { createDuckDbEngine } from '../../src/backends/duckdb/engine.ts';
import { describeBusContract } from './bus.contract.ts';
import { describeCacheContract } from './cache.contract.ts';
import { describeSqlEngineContract } from './sql.contract.ts';

/** The embedded adapters against the port contracts (production adapters run the same suites). */

async function embeddedDatabase(): Promise<{ database: DuckDbDatabase; close(): Promise<void> }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'nexus-contract-'));
  const database = await DuckDbDatabase.open({ file: path.join(dir, 'contract.duckdb') });
  await database.exec(LAKEHOUSE_DDL);
  return {
    database,
    close: async () => {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describeCacheContract('lru', async () => createLruCache({ maxEntries: 1_000 }));

describeBusContract('embedded event log', async () => {
  const { database, close } = await embeddedDatabase();
  const bus = await createEmbeddedLog({ database });
  return { ...bus, close: async () => (await bus.close(), await close()) };
});

describeSqlEngineContract('duckdb', async () => {
  const { database, close } = await embeddedDatabase();
  return {
    engine: createDuckDbEngine({ database, role: 'lakehouse', timeoutMs: 5_000 }),
    slowQuery: 'SELECT count(*) FROM range(100000000000) a',
    close,
  };
});
