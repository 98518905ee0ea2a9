import { TrinoSQL } from 'dt-sql-parser';
import type { TrinoFixture } from './trino-fixture.ts';

/**
 * An independent parser generated from Trino's own grammar (dt-sql-parser's `TrinoSQL`, from
 * `SqlBase.g4`). The Trino protocol fixture answers from DuckDB and so accepts DuckDB's syntax:
 * a statement it runs is not proof that Trino would; this parser is.
 */
export const trinoGrammar = new TrinoSQL();

/** One distinct statement sent to Trino, with what Trino's grammar says of it (empty: valid). */
export interface SentStatement {
  sql: string;
  errors: string[];
}

/**
 * Each distinct statement POSTed to the fixture so far, parsed: the statements as sent
 * (`EXECUTE … USING <literals>`) and the prepared SQL riding in `X-Trino-Prepared-Statement`,
 * `?` intact.
 */
export function statementsSent(fixture: TrinoFixture): SentStatement[] {
  const sent = new Set<string>();
  for (const request of fixture.requests) {
    if (request.method !== 'POST' || !request.path.startsWith('/v1/statement')) continue;
    sent.add(request.body.trim());
    const prepared = request.headers['x-trino-prepared-statement'];
    // `name=<url-encoded SQL>`, several comma-separated in Trino's header form.
    for (const entry of prepared?.split(',') ?? []) {
      const eq = entry.indexOf('=');
      if (eq > 0) sent.add(decodeURIComponent(entry.slice(eq + 1)).trim());
    }
  }
  return [...sent].map((sql) => ({ sql, errors: trinoGrammar.validate(sql).map((e) => `${e.startLine}:${e.startColumn} ${e.message}`) }));
}
