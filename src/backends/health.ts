import type { BackendRole } from '../errors.ts';

export type HealthStatus = 'OK' | 'DEGRADED' | 'DOWN';

/** One backend's answer to a health probe. */
export interface BackendHealth {
  role: BackendRole;
  adapter: string;
  status: HealthStatus;
  latencyMs: number;
  error: string | null;
}

/** Every port can be probed and closed. */
export interface Lifecycle {
  /** Probe the backend; never throws (a failure is a `DOWN` report). */
  health(): Promise<BackendHealth>;
  /** Release connections and flush buffers. Idempotent. */
  close(): Promise<void>;
}

/** Runs `probe` and reports its outcome and latency as a health entry. */
export async function probeHealth(
  role: BackendRole,
  adapter: string,
  probe: () => Promise<HealthStatus | void>,
): Promise<BackendHealth> {
  const started = performance.now();
  try {
    const status = (await probe()) ?? 'OK';
    return { role, adapter, status, latencyMs: performance.now() - started, error: null };
  } catch (error) {
    return {
      role,
      adapter,
      status: 'DOWN',
      latencyMs: performance.now() - started,
      error: error instanceof Error ? error.message : String(error),
    };
  }
}
