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
  id: string;
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
  /**
   * Per graphql-ws connection context: its running subscriptions. A short array (a connection runs
   * a handful at most) rather than a Map, which would reserve a hash table per connection.
   */
  private readonly running = new WeakMap<object, Running[]>();

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
    const running: Running = { id, startedAt: performance.now(), operationName, requestId, context };
    const all = this.running.get(ctx);
    // graphql-ws may reuse an id once its operation ended; a running one is replaced, as a Map would.
    const previous = all ? all.findIndex((other) => other.id === id) : -1;
    if (all && previous !== -1) all[previous] = running;
    else if (all) all.push(running);
    else this.running.set(ctx, [running]);
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
    const all = this.running.get(ctx);
    const index = all ? all.findIndex((running) => running.id === id) : -1;
    if (!all || index === -1) return;
    const [running] = all.splice(index, 1);
    if (running) this.ended(running);
  }

  /** graphql-ws `onClose`: the connection is gone with whatever it still ran. */
  connectionClosed(ctx: object): void {
    const all = this.running.get(ctx);
    if (!all) return;
    this.running.delete(ctx);
    for (const running of all) this.ended(running);
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
