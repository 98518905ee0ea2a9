/**
 * A throw-away ClickHouse server for the analytics scenario, started from this process so it
 * inherits the server core's pinning (taskset applies to every thread the server starts). Prints
 * its HTTP URL as the ready line; SIGTERM stops it and removes its directory.
 */
import { startClickHouse } from '../../test/helpers/clickhouse-server.ts';

const server = await startClickHouse();
// Its own pid: the runner reads the engine's memory, not this wrapper's.
process.stdout.write(`${JSON.stringify({ benchReady: true, url: server.url, pid: server.pid })}\n`);

process.once('SIGTERM', () => {
  server.close().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`clickhouse-server stop failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
});
