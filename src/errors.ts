import { GraphQLError } from 'graphql';

/** The closed set of `extensions.code` values clients may see (DESIGN.md, API shape). */
export const ERROR_CODES = [
  'BAD_USER_INPUT',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BACKEND_UNAVAILABLE',
  'BACKEND_TIMEOUT',
  'QUERY_TOO_COMPLEX',
  'RATE_LIMITED',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Backend roles, as named in health reports and error extensions. */
export type BackendRole = 'lakehouse' | 'analytics' | 'search' | 'cache' | 'bus';

/** An expected failure of the request: shown to the client as is. */
export function userInputError(message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', ...extensions } });
}

/**
 * A backend call failed. Adapters throw this around SDK errors (`cause`) so one place can
 * turn it into `BACKEND_UNAVAILABLE` / `BACKEND_TIMEOUT` on the fields that backend serves.
 */
export class BackendError extends Error {
  readonly role: BackendRole;
  readonly adapter: string;
  readonly timedOut: boolean;
  readonly queryId: string | undefined;
  /** The engine stopped the statement at a ceiling the caller set (`QueryOptions.limits`). */
  readonly limitExceeded: boolean;

  constructor(options: {
    role: BackendRole;
    adapter: string;
    message: string;
    cause?: unknown;
    timedOut?: boolean;
    queryId?: string;
    limitExceeded?: boolean;
  }) {
    super(`${options.role} (${options.adapter}): ${options.message}`, { cause: options.cause });
    this.name = 'BackendError';
    this.role = options.role;
    this.adapter = options.adapter;
    this.timedOut = options.timedOut ?? false;
    this.queryId = options.queryId;
    this.limitExceeded = options.limitExceeded ?? false;
  }
}

/** Raised when a backend call exceeds its time budget. */
export function backendTimeout(role: BackendRole, adapter: string, timeoutMs: number, queryId?: string): BackendError {
  return new BackendError({
    role,
    adapter,
    message: `no answer within ${timeoutMs} ms`,
    timedOut: true,
    ...(queryId === undefined ? {} : { queryId }),
  });
}

/**
 * The one normalisation point for errors leaving the gateway. Expected errors keep their
 * message and code; backend errors become `BACKEND_*` with the role; anything else is masked
 * as `INTERNAL` (the original is returned as `unexpected` for the logs). Never throws.
 */
export function normaliseError(error: GraphQLError): { error: GraphQLError; unexpected?: unknown } {
  const original = error.originalError;
  const code = error.extensions?.['code'];
  if (original === undefined || original === null) {
    // Parse/validation errors from graphql-js, or errors we created with a code.
    return { error };
  }
  if (original instanceof BackendError) {
    return {
      error: new GraphQLError(
        original.timedOut
          ? `The ${original.role} backend did not answer in time.`
          : `The ${original.role} backend is unavailable.`,
        {
          nodes: error.nodes,
          source: error.source,
          positions: error.positions,
          path: error.path,
          extensions: {
            code: original.timedOut ? 'BACKEND_TIMEOUT' : 'BACKEND_UNAVAILABLE',
            backend: original.role,
            adapter: original.adapter,
          },
        },
      ),
      unexpected: original,
    };
  }
  if (original instanceof GraphQLError) {
    // GraphQL errors are client-facing by construction (parse, validation, coercion, ours).
    return { error };
  }
  if (typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code) && code !== 'INTERNAL') {
    return { error };
  }
  return {
    error: new GraphQLError('Internal error.', {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      extensions: { code: 'INTERNAL' },
    }),
    unexpected: original,
  };
}
