import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { BackendError, normaliseError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { queryLimitRefusal } from '../security/limits.ts';

/** Client-facing form of an error (through the one normalisation point); unexpected ones are logged whole. */
export function formatErrorFor(logger: Logger, formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const graphQLError = error instanceof GraphQLError ? error : new GraphQLError(formatted.message, { originalError: error as Error });
  // A query limit's refusal keeps its own code (Apollo wraps it as a parse or validation failure).
  const refusal = queryLimitRefusal(graphQLError);
  if (refusal) return refusal.toJSON();
  const { error: normalised, unexpected } = normaliseError(graphQLError);
  if (unexpected instanceof BackendError) logger.warn({ err: unexpected, path: normalised.path }, normalised.message);
  else if (unexpected !== undefined) logger.error({ err: unexpected, path: normalised.path }, normalised.message);
  const json = normalised.toJSON();
  // Apollo's errors carry their HTTP status in `extensions.http`; Apollo strips it from `formatted` only.
  const { http: _status, ...extensions } = json.extensions ?? {};
  const code = extensions['code'] ?? formatted.extensions?.['code'];
  if (typeof code === 'string' && APOLLO_REQUEST_ERRORS.has(code)) {
    // Requests that are wrong before execution: one client-facing code, Apollo's kept as the reason.
    return { ...json, extensions: { ...extensions, code: 'BAD_USER_INPUT', reason: code } };
  }
  // Apollo's persisted-query refusals without a code of their own (hash not matching the text,
  // unknown protocol version) arrive as INTERNAL_SERVER_ERROR with a 4xx status: the client's mistake.
  // PERSISTED_QUERY_NOT_FOUND / _NOT_SUPPORTED keep Apollo's codes: APQ clients act on them.
  const status = (_status as { status?: number } | undefined)?.status;
  if (code === 'INTERNAL_SERVER_ERROR' && extensions['code'] === undefined && status !== undefined && status >= 400 && status < 500) {
    return { ...json, extensions: { ...extensions, code: 'BAD_USER_INPUT', reason: 'BAD_REQUEST' } };
  }
  return { ...json, extensions: { ...formatted.extensions, ...extensions } };
}

/** Apollo's codes for requests rejected before execution (parse, validation, malformed HTTP). */
const APOLLO_REQUEST_ERRORS = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_REQUEST', 'OPERATION_RESOLUTION_FAILURE']);
