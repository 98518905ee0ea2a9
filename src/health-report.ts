import type { BackendHealth, HealthStatus } from './backends/health.ts';

/** Roles without which the gateway cannot serve its core (reads of the lakehouse, durable ingest). */
const ESSENTIAL = new Set(['lakehouse', 'bus']);

/** OK when every backend is OK; DOWN when an essential one is down; DEGRADED otherwise. */
export function overallHealth(backends: BackendHealth[]): { status: HealthStatus; backends: BackendHealth[]; checkedAt: Date } {
  let status: HealthStatus = 'OK';
  for (const backend of backends) {
    if (backend.status === 'OK') continue;
    if (backend.status === 'DOWN' && ESSENTIAL.has(backend.role)) {
      status = 'DOWN';
      break;
    }
    status = 'DEGRADED';
  }
  return { status, backends, checkedAt: new Date() };
}
