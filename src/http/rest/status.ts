/**
 * HTTP status and error body of a REST answer, from the GraphQL error codes (`extensions.code`).
 * The body follows FastAPI's (`{"detail": …}`), which the platform's apps already read, plus the
 * code so a client can act on it without parsing the message.
 */
import { ERROR_CODES, type ErrorCode } from '../../errors.ts';

/** Code of a 404 (a route, or the one entity a route reads, does not exist): REST only, GraphQL answers null. */
export const NOT_FOUND = 'NOT_FOUND';

/** The HTTP status of an answer whose first error carries `code`. */
export function httpStatusOf(code: unknown): number {
  if (typeof code !== 'string' || !(ERROR_CODES as readonly string[]).includes(code)) {
    // Apollo's own codes the pipeline lets through: the persisted-query ones do not apply to REST.
    return code === NOT_FOUND ? 404 : 500;
  }
  const known = code as ErrorCode;
  switch (known) {
    case 'BAD_USER_INPUT':
    // A query over the cost or depth limits: only the client's parameters (e.g. `limit`) can change it.
    case 'QUERY_TOO_COMPLEX':
      return 400;
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'RATE_LIMITED':
      return 429;
    case 'INTERNAL':
      return 500;
    case 'BACKEND_UNAVAILABLE':
      return 503;
    case 'BACKEND_TIMEOUT':
      return 504;
    default: {
      const unhandled: never = known;
      return unhandled;
    }
  }
}

/** A REST error answer. */
export interface RestError {
  detail: string;
  code: string;
  /** Where a bad parameter was (`["query", "limit"]`), as FastAPI reports it. */
  loc?: readonly string[];
  /** Every error, when the operation reported more than one. */
  errors?: readonly { message: string; code: string; path?: readonly (string | number)[] }[];
}

/** The JSON text of a REST error answer. */
export function restErrorBody(detail: string, code: string, extra: Omit<RestError, 'detail' | 'code'> = {}): string {
  return JSON.stringify({ detail, code, ...extra } satisfies RestError);
}
