import { loadConfigOrExit } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { startMedallionWorker } from './worker.ts';

/**
 * Process entry: `npm run medallion`. Exits 2 on bad configuration, 1 when the worker cannot
 * start (no brokers, no lakehouse, the group not joined), 0 after SIGTERM/SIGINT once the pass in
 * progress finished or was abandoned (bounded) and the replica left its consumer group.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger(config.logLevel);
  let worker: Awaited<ReturnType<typeof startMedallionWorker>> | undefined;
  try {
    worker = await startMedallionWorker(config, {
      logger,
      // Lakehouse refused after a takeover: exit, so the group gives the partitions to a healthy replica.
      onFatal: () => void worker?.stop().finally(() => process.exit(1)),
    });
  } catch (error) {
    logger.fatal({ err: error }, 'medallion worker could not start');
    process.exit(1);
  }
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'medallion worker shutting down');
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    worker!.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'medallion worker shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`medallion worker failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
