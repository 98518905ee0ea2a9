import type { ApolloServerPlugin } from '@apollo/server';
import { trace } from '@opentelemetry/api';
import type { GraphQLFormattedError } from 'graphql';
import type { GatewayContext } from '../context.ts';
import type { GatewayMetrics } from './metrics.ts';
import { failOperationSpan, nameOperationSpan } from './tracing.ts';

/** Options of the operation plugin. */
export interface OperationPluginOptions {
  /** The gateway's metrics; absent when `METRICS=false` (the plugin still fills the request's observation). */
  metrics: GatewayMetrics | undefined;
  /** Name and mark the active operation span (only when the gateway traces). */
  tracing: boolean;
}

/**
 * Observes every operation Apollo executes: its name and type, the codes of the errors sent
 * (after the gateway's error normalisation, as clients see them) and its duration. Records them
 * as metrics, on the operation span, and in the context's observation for the request log line.
 */
export function operationPlugin(options: OperationPluginOptions): ApolloServerPlugin<GatewayContext> {
  const { metrics, tracing } = options;
  return {
    // Requests Apollo refuses before any operation exists (a GET without `query`, say).
    async invalidRequestWasReceived() {
      metrics?.refused('BAD_USER_INPUT');
    },
    async requestDidStart({ contextValue }) {
      const started = performance.now();
      const observed = contextValue.observed;
      return {
        async didResolveOperation({ operation, operationName }) {
          if (!operation) return;
          observed.name = operationName;
          observed.type = operation.operation;
          if (tracing) {
            const span = trace.getActiveSpan();
            if (span) nameOperationSpan(span, operation.operation, operationName);
          }
        },
        async willSendResponse({ response }) {
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : response.body.initialResult.errors;
          const codes = errors ? errors.map(codeOf) : [];
          // Pushed, not assigned: the operations of a batched request share one observation.
          observed.errorCodes.push(...codes);
          if (tracing && codes.length > 0) {
            const span = trace.getActiveSpan();
            if (span) failOperationSpan(span, observed.errorCodes);
          }
          if (!metrics) return;
          const bound = metrics.operation(observed.name, observed.type ?? 'unknown');
          (codes.length > 0 ? bound.error : bound.ok).inc();
          bound.duration.observe((performance.now() - started) / 1000);
          for (const code of codes) metrics.error(code);
        },
      };
    },
  };
}

function codeOf(error: GraphQLFormattedError): string {
  const code = error.extensions?.['code'];
  return typeof code === 'string' ? code : 'INTERNAL';
}
