import { getOperationAST, type ExecutionArgs, type GraphQLFormattedError } from 'graphql';
import type { WebSocketServer } from 'ws';
import type { Logger } from '../logger.ts';
import type { GatewayMetrics } from './metrics.ts';
import { principalOf } from './request-log.ts';

/** Options of the graphql-ws observer. */
export interface WsObserverOptions {
  /** Absent when `METRICS=false`: only the log lines are written. */
  metrics: GatewayMetrics | undefined;
  logger: Logger;
}

interface Running {
  startedAt: number;
  operationName: string | null;
  requestId: string | undefined;
  context: object | undefined;
}

/**
 * Keeps the graphql-ws figures — open connections, running subscriptions, operations by name —
 * and logs each subscription's start and end. Wired to graphql-ws's hooks: `onOperation` sees an
 * operation start, `onComplete` its end (client `complete`, server completion, or the socket
 * closing), and `onClose` ends whatever a connection still had, so a path that skips
 * `onComplete` (a send failing on a dead socket) cannot leave the gauge counting it.
 */
export class WsObserver {
  private readonly metrics: GatewayMetrics | undefined;
  private readonly logger: Logger;
  /** Per graphql-ws connection context: its running subscriptions by operation id. */
  private readonly running = new WeakMap<object, Map<string, Running>>();

  constructor(options: WsObserverOptions) {
    this.metrics = options.metrics;
    this.logger = options.logger;
  }

  /** Counts the WebSocket connections of `server` (open to closed). */
  watch(server: WebSocketServer): void {
    const { metrics } = this;
    if (!metrics) return;
    // One listener function for every socket ('close' comes once): no closure per connection.
    const closed = () => metrics.connectionClosed();
    server.on('connection', (socket) => {
      metrics.connectionOpened();
      socket.on('close', closed);
    });
  }

  /** graphql-ws `onOperation`: an operation was executed or subscribed; `result` is an async iterable for a live subscription. */
  operationStarted(ctx: object, id: string, args: ExecutionArgs, result: unknown): void {
    const operation = getOperationAST(args.document, args.operationName);
    const type = operation?.operation ?? 'unknown';
    const operationName = operation?.name?.value ?? null;
    const live = typeof result === 'object' && result !== null && Symbol.asyncIterator in result;
    const failed = !live && typeof result === 'object' && result !== null && 'errors' in result && Array.isArray(result.errors);
    if (this.metrics) {
      const bound = this.metrics.operation(operationName, type);
      (failed ? bound.error : bound.ok).inc();
    }
    if (!live) return;
    const context = typeof args.contextValue === 'object' && args.contextValue !== null ? args.contextValue : undefined;
    const requestId = context && 'requestId' in context && typeof context.requestId === 'string' ? context.requestId : undefined;
    let byId = this.running.get(ctx);
    if (!byId) this.running.set(ctx, (byId = new Map()));
    const running: Running = { startedAt: performance.now(), operationName, requestId, context };
    byId.set(id, running);
    this.metrics?.subscriptionStarted();
    this.log('graphql subscription started', running, undefined);
  }

  /** graphql-ws `onError` (an operation refused or failed): counts the codes of the errors sent, and returns them. */
  errorsSent(errors: GraphQLFormattedError[]): GraphQLFormattedError[] {
    if (this.metrics) for (const error of errors) this.metrics.error(error.extensions?.['code']);
    return errors;
  }

  /** graphql-ws `onComplete`. */
  operationEnded(ctx: object, id: string): void {
    const byId = this.running.get(ctx);
    const running = byId?.get(id);
    if (!byId || !running) return;
    byId.delete(id);
    this.ended(running);
  }

  /** graphql-ws `onClose`: the connection is gone with whatever it still ran. */
  connectionClosed(ctx: object): void {
    const byId = this.running.get(ctx);
    if (!byId) return;
    this.running.delete(ctx);
    for (const running of byId.values()) this.ended(running);
  }

  private ended(running: Running): void {
    this.metrics?.subscriptionEnded();
    this.log('graphql subscription ended', running, performance.now() - running.startedAt);
  }

  private log(message: string, running: Running, durationMs: number | undefined): void {
    if (!this.logger.isLevelEnabled('info')) return;
    const principal = running.context ? principalOf(running.context) : undefined;
    this.logger.info(
      {
        requestId: running.requestId,
        operationName: running.operationName,
        operationType: 'subscription',
        ...(principal ? { principal: { id: principal.id, role: principal.role } } : {}),
        ...(durationMs === undefined ? {} : { durationMs: Math.round(durationMs) }),
      },
      message,
    );
  }
}
