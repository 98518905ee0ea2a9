import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Gives the JavaScript heap back after a burst of load. Under load V8 grows its young generation
 * (to 128 MiB here) and its old space, and keeps them committed once the load is gone: measured
 * after 5,000 queries, the heap in use was back to 70 MiB while 240 MiB stayed committed, and the
 * RSS with it. V8 only shrinks them in a memory-reducing collection, which its own heuristics
 * rarely start on a server. So once a busy spell is followed by an idle one (15 s by default),
 * this runs one such collection (it pauses the process for tens to hundreds of milliseconds, which
 * is why it waits for idleness), and then waits for the next busy spell.
 */

/** Options of {@link startMemoryReclaim}. */
export interface MemoryReclaimOptions {
  /** How often the event loop's utilisation is sampled, in ms. Default 1000. */
  intervalMs?: number;
  /** A sample at least this busy (0..1) arms the reclaim. Default 0.3. */
  busyUtilization?: number;
  /** An armed reclaim runs after `idleSamples` samples in a row at most this busy. Default 0.05. */
  idleUtilization?: number;
  /**
   * Idle samples in a row before it runs. Default 15: the load must be gone, not paused. The
   * collection costs more than its pause: V8 then runs the next load with a heap sized to the
   * idle process, measured at up to a third less throughput for several seconds (a catalogue page
   * 160 → 267 µs of CPU). After two idle seconds, as this first waited, a client polling every few
   * seconds paid that on every poll, and so did each lull between bursts.
   */
  idleSamples?: number;
  /** Committed but unused heap below which a collection is not worth its pause, in bytes. Default 32 MiB. */
  minSlackBytes?: number;
  /** Told what each collection gave back. */
  onReclaim?: (figures: { heapBeforeBytes: number; heapAfterBytes: number; pauseMs: number }) => void;
}

type Collect = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

let collect: Collect | undefined;

/**
 * V8's collector with its "last resort" flavour: what V8 runs under memory pressure, compacting
 * and releasing the pages the heap no longer uses. Exposed once (the flag only adds the function).
 */
function collector(): Collect {
  if (!collect) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as Collect;
  }
  return collect;
}

/** Starts sampling; returns the function that stops it. */
export function startMemoryReclaim(options: MemoryReclaimOptions = {}): () => void {
  const busy = options.busyUtilization ?? 0.3;
  const idle = options.idleUtilization ?? 0.05;
  const minSlack = options.minSlackBytes ?? 32 * 1024 * 1024;
  let last = performance.eventLoopUtilization();
  const idleSamples = options.idleSamples ?? 15;
  let armed = false;
  let idleInARow = 0;
  let skip = 0;
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(now, last);
    last = now;
    if (skip > 0) {
      skip -= 1;
      return;
    }
    if (utilization >= busy) {
      armed = true;
      idleInARow = 0;
      return;
    }
    idleInARow = utilization <= idle ? idleInARow + 1 : 0;
    if (!armed || idleInARow < idleSamples) return;
    armed = false;
    idleInARow = 0;
    const before = process.memoryUsage();
    if (before.heapTotal - before.heapUsed < minSlack) return;
    const started = performance.now();
    collector()({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    const pauseMs = performance.now() - started;
    options.onReclaim?.({ heapBeforeBytes: before.heapTotal, heapAfterBytes: process.memoryUsage().heapTotal, pauseMs });
    // The loop accounts the collection's pause as busy time in the next samples (once it has
    // gone round): those must not re-arm.
    skip = 2;
  }, options.intervalMs ?? 1_000);
  timer.unref();
  return () => clearInterval(timer);
}
