import { ConfigError, loadConfigOrExit } from './config.ts';
import { startGateway } from './gateway.ts';

/** Process entry: `npm start`. Exits non-zero with one clear message on bad configuration. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const gateway = await startGateway(config);
  const shutdown = (signal: string) => {
    gateway.logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    gateway.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        gateway.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`Nexus Gateway failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
