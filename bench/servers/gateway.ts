/**
 * The gateway under test, started through its public entry points with the environment the
 * runner passes (DATA_DIR, RESPONSE_CACHE, …), on a free port of 127.0.0.1 (PORT=0).
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { loadConfig } from '../../src/config.ts';
import { startGateway } from '../../src/gateway.ts';
import { DEMO_ANCHOR } from '../documents.ts';

const profile = process.env['BENCH_CPU_PROFILE'] ? await startCpuProfile() : undefined;
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
    async () => {
      await profile?.save(`${process.env['BENCH_CPU_PROFILE']}-${process.pid}.cpuprofile`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`gateway stop failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
});

/**
 * BENCH_CPU_PROFILE=<path prefix>: a CPU profile of this gateway from start to stop, written as
 * `<prefix>-<pid>.cpuprofile` (Chrome DevTools and speedscope read it). Sampling is wall-clock:
 * time the process waits off-CPU shows as `(idle)` or in the system call it waited in.
 */
async function startCpuProfile(): Promise<{ save(file: string): Promise<void> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return {
    async save(file) {
      const { profile } = await session.post('Profiler.stop');
      await writeFile(file, JSON.stringify(profile));
    },
  };
}
