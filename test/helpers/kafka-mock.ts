import { spawn } from 'node:child_process';
import { waitForPort } from './peers.ts';

/** A running librdkafka mock cluster (a Kafka-protocol broker set, in memory). */
export interface KafkaMock {
  /** Bootstrap brokers, `127.0.0.1:port`. */
  brokers: string[];
  /** Stops the kcat process this helper started (by its PID). Idempotent. */
  stop(): Promise<void>;
  /**
   * Freezes the cluster (SIGSTOP to that PID): connections stay open, nothing answers, and the
   * log is kept. This is how the fault-injection suite takes Kafka down: the mock keeps its log
   * in kcat's memory and picks its own listener ports (librdkafka 2.0 has no port setting, only
   * `test.mock.num.brokers` and `test.mock.broker.rtt`), so a stopped mock cannot come back on
   * the same address with the same records. Requests sent meanwhile are answered on `resume`.
   */
  pause(): void;
  /** Undoes `pause` (SIGCONT): the brokers answer again, first what was sent while frozen. */
  resume(): void;
}

/** Options of `startKafkaMock`. */
export interface KafkaMockOptions {
  /** Brokers in the cluster. Default 1 (every partition on one leader: one fetch sees all of them). */
  brokers?: number;
  /** Path of kcat. Default `'kcat'` (from PATH). */
  binary?: string;
  /** Budget for the cluster to come up. Default 10,000 ms. */
  timeoutMs?: number;
}

/**
 * Starts librdkafka's mock cluster through kcat (Debian `kcat`): kcat consumes a keepalive topic
 * from the mock cluster it creates, and with `-d mock` prints `bootstrap.servers=...` on stderr.
 * Topics auto-create (4 partitions each); CreateTopics is not supported, and its metadata names
 * controller 0, which is none of its brokers.
 */
export async function startKafkaMock(options: KafkaMockOptions = {}): Promise<KafkaMock> {
  const brokerCount = options.brokers ?? 1;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const child = spawn(
    options.binary ?? 'kcat',
    ['-X', `test.mock.num.brokers=${brokerCount}`, '-b', 'localhost:1', '-C', '-t', 'keepalive', '-d', 'mock'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A test run that dies must not leave the broker behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.removeListener('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        child.kill('SIGCONT'); // a paused process acts on SIGTERM only once it runs again
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
      }
    })();
    return stopping;
  };

  try {
    const servers = await new Promise<string>((resolve, reject) => {
      let head = '';
      const timer = setTimeout(() => reject(new Error(`kcat printed no bootstrap.servers within ${timeoutMs} ms:\n${head.slice(0, 2_000)}`)), timeoutMs);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`kcat exited (${code ?? signal}) before the mock cluster started:\n${head.slice(0, 2_000)}`));
      });
      child.stderr.setEncoding('utf8');
      const onData = (chunk: string) => {
        head += chunk;
        const match = /bootstrap\.servers=([\d.:,]+)/.exec(head);
        if (!match) return;
        clearTimeout(timer);
        child.stderr.off('data', onData);
        // The mock logs every request on stderr from now on: keep draining it, or kcat blocks.
        child.stderr.resume();
        resolve(match[1]!);
      };
      child.stderr.on('data', onData);
    });
    const brokers = servers.split(',').filter(Boolean);
    await Promise.all(brokers.map((broker) => waitForPort(Number(broker.split(':').pop()), timeoutMs)));
    const signal = (name: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(name);
    };
    return { brokers, stop, pause: () => signal('SIGSTOP'), resume: () => signal('SIGCONT') };
  } catch (error) {
    await stop();
    throw error;
  }
}
