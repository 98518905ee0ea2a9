/**
 * The gateway under test, started through its public entry points with the environment the
 * runner passes (DATA_DIR, RESPONSE_CACHE, …), on a free port of 127.0.0.1 (PORT=0).
 */
import { loadConfig } from '../../src/config.ts';
import { startGateway } from '../../src/gateway.ts';
import { DEMO_ANCHOR } from '../documents.ts';

const gateway = await startGateway(
  loadConfig({
    DEMO_ANCHOR,
    DEMO_SCALE: '1',
    LOG_LEVEL: 'warn',
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
  }),
);
process.stdout.write(`${JSON.stringify({ benchReady: true, url: gateway.url })}\n`);

// Apollo Server installs its own SIGTERM/SIGINT handler (stopOnTerminationSignals defaults to
// on), which stops Apollo and then re-raises the signal, killing the process before the
// gateway's drain and database checkpoint finish. gateway.stop() stops Apollo too, so drop it.
process.removeAllListeners('SIGTERM');
process.removeAllListeners('SIGINT');
process.once('SIGTERM', () => {
  gateway.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`gateway stop failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
});
