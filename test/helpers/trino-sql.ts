import { canCoerce, literalType, location, readLiteral, TrinoFailure, type FixtureValue } from './trino-literals.ts';

/**
 * The statements that change a Trino catalog, as the Trino fixture serves them over DuckDB:
 * `CREATE SCHEMA`, `CREATE TABLE` (with the Iceberg connector's table properties), `CREATE [OR
 * REPLACE] VIEW`, `INSERT INTO ... VALUES | query`, `DELETE`, `UPDATE`, `MERGE INTO` (DuckDB runs
 * the same MERGE) and `ALTER TABLE ... EXECUTE <procedure>` (the Iceberg connector's
 * optimize, expire_snapshots and remove_orphan_files, checked and then a no-op: the fixture keeps
 * no files). Each is parsed by Trino's grammar
 * for that statement (https://trino.io/docs/current/sql/create-table.html and siblings), checked
 * by the rules Trino and its Iceberg connector apply (no PRIMARY KEY, DEFAULT or other constraint
 * but NOT NULL, Iceberg's types, known table properties, partition transforms over existing
 * columns, INSERT values coercible to their columns), then translated for DuckDB. Names may be
 * `schema.table` or `catalog.schema.table` with the session's catalog, the only one the fixture has.
 */

export interface FixtureSession {
  catalog: string;
  schema: string;
  timeZone: string;
}

/** A column of an existing table, with its Trino type (`varchar`, `timestamp(6)`, `array(varchar)`, ...). */
export interface FixtureColumn {
  name: string;
  type: string;
}

/** A statement that changes the catalog, ready for DuckDB. */
export interface FixtureUpdate {
  /** Trino's `updateType` for it, e.g. `CREATE TABLE`, `INSERT`. */
  updateType: string;
  /** Whether Trino answers with the number of rows written (a `rows` column and `updateCount`). */
  countsRows: boolean;
  /** The DuckDB statement; `?` bind `values`. */
  sql: string;
  values: FixtureValue[];
  /** The table whose rows it changes: a write that changed rows commits an Iceberg snapshot of it. */
  writes?: { schema: string; table: string; operation: 'append' | 'overwrite' | 'delete' };
}

/** Reads the columns of `schema.table` in the fixture's database (undefined if there is no such table). */
export type ColumnsOf = (schema: string, table: string) => Promise<FixtureColumn[] | undefined>;

/** Statements Trino has that the fixture does not serve (rather than letting DuckDB answer them its own way). */
const UNSERVED = new Set(['DROP', 'TRUNCATE', 'COMMENT', 'CALL', 'GRANT', 'REVOKE']);

/**
 * The DuckDB form of a catalog-changing statement, or undefined for a query (which the fixture
 * runs as it is). `params` are the values of an `EXECUTE ... USING` list.
 */
export async function translateUpdate(sql: string, params: readonly FixtureValue[], session: FixtureSession, columnsOf: ColumnsOf): Promise<FixtureUpdate | undefined> {
  const tokens = lexer(sql);
  const first = tokens.peek();
  if (first.kind !== 'word') return undefined;
  const keyword = first.text.toUpperCase();
  if (UNSERVED.has(keyword)) {
    throw new TrinoFailure('NOT_SUPPORTED', 13, `fixture: ${keyword} statements are not served (CREATE SCHEMA/TABLE/VIEW, INSERT, DELETE, UPDATE, MERGE, ALTER TABLE EXECUTE and queries are)`);
  }
  if (!['CREATE', 'INSERT', 'DELETE', 'UPDATE', 'MERGE', 'ALTER'].includes(keyword)) return undefined;
  if (keyword === 'DELETE') return deleteStatement(tokens, params, session);
  if (keyword === 'UPDATE') return updateStatement(tokens, params, session, columnsOf);
  if (keyword === 'MERGE') return mergeStatement(tokens, params, session, columnsOf);
  if (keyword === 'ALTER') return alterTableExecute(tokens, params, session, columnsOf);
  if (keyword === 'INSERT') return insertStatement(tokens, params, session, columnsOf);
  if (params.length > 0) throw new TrinoFailure('NOT_SUPPORTED', 13, `fixture: parameters in ${keyword} statements are not served`);
  tokens.next();
  const replace = tokens.acceptWords('OR', 'REPLACE');
  const what = tokens.expectWord('SCHEMA', 'TABLE', 'VIEW');
  if (what === 'SCHEMA' && !replace) return createSchema(tokens, session);
  if (what === 'TABLE' && !replace) return createTable(tokens, session);
  if (what === 'VIEW') return createView(tokens, session, replace);
  throw new TrinoFailure('NOT_SUPPORTED', 13, `fixture: CREATE OR REPLACE ${what} is not served`);
}

// ---------------------------------------------------------------------------------------------
// Statements.

function createSchema(tokens: Lexer, session: FixtureSession): FixtureUpdate {
  const ifNotExists = tokens.acceptWords('IF', 'NOT', 'EXISTS');
  const name = qualifiedName(tokens, session, 'schema');
  if (tokens.acceptWords('AUTHORIZATION')) tokens.next();
  if (tokens.acceptWords('WITH')) {
    for (const property of properties(tokens)) {
      // The Iceberg connector's only schema property.
      if (property.name !== 'location') throw new TrinoFailure('INVALID_SCHEMA_PROPERTY', 33, `${location(tokens.sql, property.at)}: Catalog '${session.catalog}' schema property '${property.name}' does not exist`);
    }
  }
  tokens.expectEnd();
  return { updateType: 'CREATE SCHEMA', countsRows: false, sql: `CREATE SCHEMA ${ifNotExists ? 'IF NOT EXISTS ' : ''}${quote(name.schema)}`, values: [] };
}

interface ColumnDefinition {
  name: string;
  trinoType: string;
  duckdbType: string;
  notNull: boolean;
}

function createTable(tokens: Lexer, session: FixtureSession): FixtureUpdate {
  const ifNotExists = tokens.acceptWords('IF', 'NOT', 'EXISTS');
  const name = qualifiedName(tokens, session, 'table');
  if (tokens.peek().text !== '(') {
    throw new TrinoFailure('NOT_SUPPORTED', 13, 'fixture: CREATE TABLE ... AS is not served');
  }
  tokens.expectSymbol('(');
  const columns: ColumnDefinition[] = [];
  for (;;) {
    if (tokens.peek().kind === 'word' && tokens.peek().text.toUpperCase() === 'LIKE') {
      throw new TrinoFailure('NOT_SUPPORTED', 13, 'fixture: CREATE TABLE ... (LIKE ...) is not served');
    }
    const column = columnDefinition(tokens, session);
    if (columns.some((c) => c.name === column.name)) {
      throw new TrinoFailure('DUPLICATE_COLUMN_NAME', 54, `${location(tokens.sql, tokens.peek().start)}: Column name '${column.name}' specified more than once`);
    }
    columns.push(column);
    if (tokens.acceptSymbol(',')) continue;
    tokens.expectSymbol(')');
    break;
  }
  if (tokens.acceptWords('COMMENT')) tokens.expectString();
  if (tokens.acceptWords('WITH')) checkTableProperties(tokens, properties(tokens), columns, session);
  tokens.expectEnd();
  const body = columns.map((c) => `${quote(c.name)} ${c.duckdbType}${c.notNull ? ' NOT NULL' : ''}`).join(', ');
  return { updateType: 'CREATE TABLE', countsRows: false, sql: `CREATE TABLE ${ifNotExists ? 'IF NOT EXISTS ' : ''}${duckName(name)} (${body})`, values: [] };
}

/** `name type [NOT NULL] [COMMENT '...'] [WITH (...)]`: the whole of Trino's column definition. */
function columnDefinition(tokens: Lexer, session: FixtureSession): ColumnDefinition {
  const name = tokens.expectIdentifier();
  const typeAt = tokens.peek().start;
  const type = icebergType(parseType(tokens), tokens.sql, typeAt);
  let notNull = false;
  if (tokens.acceptWords('NOT')) {
    tokens.expectWord('NULL');
    notNull = true;
  }
  if (tokens.acceptWords('COMMENT')) tokens.expectString();
  if (tokens.acceptWords('WITH')) {
    for (const property of properties(tokens)) {
      throw new TrinoFailure('INVALID_COLUMN_PROPERTY', 39, `${location(tokens.sql, property.at)}: Catalog '${session.catalog}' column property '${property.name}' does not exist`);
    }
  }
  // Anything else here (PRIMARY KEY, DEFAULT, UNIQUE, REFERENCES, CHECK, ...) is not Trino's grammar.
  const next = tokens.peek();
  if (next.text !== ',' && next.text !== ')') {
    throw new TrinoFailure('SYNTAX_ERROR', 1, `${location(tokens.sql, next.start)}: mismatched input '${next.text}'. Expecting: ')', ',', 'COMMENT', 'NOT', 'WITH'`);
  }
  return { name, ...type, notNull };
}

function createView(tokens: Lexer, session: FixtureSession, replace: boolean): FixtureUpdate {
  const name = qualifiedName(tokens, session, 'table');
  if (tokens.acceptWords('COMMENT')) tokens.expectString();
  if (tokens.acceptWords('SECURITY')) tokens.expectWord('DEFINER', 'INVOKER');
  tokens.expectWord('AS');
  const query = tokens.sql.slice(tokens.peek().start);
  return { updateType: 'CREATE VIEW', countsRows: false, sql: `CREATE ${replace ? 'OR REPLACE ' : ''}VIEW ${duckName(name)} AS ${query}`, values: [] };
}

function deleteStatement(tokens: Lexer, params: readonly FixtureValue[], session: FixtureSession): FixtureUpdate {
  tokens.next();
  tokens.expectWord('FROM');
  const name = qualifiedName(tokens, session, 'table');
  const rest = tokens.peek();
  if (rest.kind !== 'end' && rest.text.toUpperCase() !== 'WHERE') {
    throw new TrinoFailure('SYNTAX_ERROR', 1, `${location(tokens.sql, rest.start)}: mismatched input '${rest.text}'. Expecting: 'WHERE', <EOF>`);
  }
  return { updateType: 'DELETE', countsRows: true, sql: `DELETE FROM ${duckName(name)} ${tokens.sql.slice(rest.start)}`, values: [...params], writes: { ...name, operation: 'delete' } };
}

/** The target of a row-level write, which must be an existing table (not a view). */
async function targetTable(tokens: Lexer, session: FixtureSession, columnsOf: ColumnsOf): Promise<TableName> {
  const at = tokens.peek().start;
  const name = qualifiedName(tokens, session, 'table');
  if (!(await columnsOf(name.schema, name.table))) throw new TrinoFailure('TABLE_NOT_FOUND', 46, `${location(tokens.sql, at)}: Table '${session.catalog}.${name.schema}.${name.table}' does not exist`);
  return name;
}

/** `UPDATE t SET c = expr, ... [WHERE ...]` (row-level on Iceberg): DuckDB runs the rest as written. */
async function updateStatement(tokens: Lexer, params: readonly FixtureValue[], session: FixtureSession, columnsOf: ColumnsOf): Promise<FixtureUpdate> {
  tokens.next();
  const name = await targetTable(tokens, session, columnsOf);
  const set = tokens.peek();
  tokens.expectWord('SET');
  return { updateType: 'UPDATE', countsRows: true, sql: `UPDATE ${duckName(name)} ${tokens.sql.slice(set.start)}`, values: [...params], writes: { ...name, operation: 'overwrite' } };
}

/**
 * `MERGE INTO t [[AS] alias] USING source ON condition WHEN ...`: Trino's MERGE (row-level on
 * Iceberg) is also DuckDB's, so DuckDB runs it as written once the target is checked.
 */
async function mergeStatement(tokens: Lexer, params: readonly FixtureValue[], session: FixtureSession, columnsOf: ColumnsOf): Promise<FixtureUpdate> {
  tokens.next();
  tokens.expectWord('INTO');
  const name = await targetTable(tokens, session, columnsOf);
  const rest = tokens.peek();
  return { updateType: 'MERGE', countsRows: true, sql: `MERGE INTO ${duckName(name)} ${tokens.sql.slice(rest.start)}`, values: [...params], writes: { ...name, operation: 'overwrite' } };
}

/**
 * The Iceberg connector's table procedures (https://trino.io/docs/current/connector/iceberg.html#alter-table-execute),
 * with their arguments; a retention shorter than the connector's minimum (7 days by default,
 * `iceberg.expire-snapshots.min-retention` / `iceberg.remove-orphan-files.min-retention`) is refused.
 */
const TABLE_PROCEDURES: Record<string, Record<string, 'data size' | 'duration'>> = {
  optimize: { file_size_threshold: 'data size' },
  expire_snapshots: { retention_threshold: 'duration' },
  remove_orphan_files: { retention_threshold: 'duration' },
};
const MIN_RETENTION_DAYS = 7;
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h|d)\s*$/;
const DATA_SIZE = /^\s*(\d+(?:\.\d+)?)\s*(B|kB|MB|GB|TB|PB)\s*$/;
const DAYS_PER_UNIT: Record<string, number> = { ns: 1 / 86_400e9, us: 1 / 86_400e6, ms: 1 / 86_400e3, s: 1 / 86_400, m: 1 / 1_440, h: 1 / 24, d: 1 };

/** `ALTER TABLE t EXECUTE procedure[(name => 'value', ...)]`: checked as the connector checks it, then nothing to do. */
async function alterTableExecute(tokens: Lexer, params: readonly FixtureValue[], session: FixtureSession, columnsOf: ColumnsOf): Promise<FixtureUpdate> {
  tokens.next();
  if (!tokens.acceptWords('TABLE')) throw new TrinoFailure('NOT_SUPPORTED', 13, 'fixture: ALTER is served as ALTER TABLE ... EXECUTE <procedure> only');
  tokens.acceptWords('IF', 'EXISTS');
  await targetTable(tokens, session, columnsOf);
  if (!tokens.acceptWords('EXECUTE')) throw new TrinoFailure('NOT_SUPPORTED', 13, 'fixture: ALTER TABLE is served with EXECUTE <procedure> only');
  if (params.length > 0) throw new TrinoFailure('NOT_SUPPORTED', 13, 'fixture: parameters in ALTER TABLE EXECUTE are not served');
  const procedureAt = tokens.peek().start;
  const procedure = tokens.expectIdentifier();
  const accepted = TABLE_PROCEDURES[procedure];
  if (!accepted) throw new TrinoFailure('PROCEDURE_NOT_FOUND', 33, `${location(tokens.sql, procedureAt)}: Table procedure not registered: ${session.catalog}.${procedure}`);
  if (tokens.acceptSymbol('(') && !tokens.acceptSymbol(')')) {
    for (;;) {
      const at = tokens.peek().start;
      const argument = tokens.expectIdentifier();
      tokens.expectSymbol('=');
      tokens.expectSymbol('>');
      const { value, end } = readLiteral(tokens.sql, tokens.peek().start);
      tokens.seek(end);
      const kind = accepted[argument];
      if (!kind) throw new TrinoFailure('INVALID_PROCEDURE_ARGUMENT', 24, `${location(tokens.sql, at)}: Unknown argument name: ${argument}`);
      if (value.kind !== 'varchar') throw new TrinoFailure('TYPE_MISMATCH', 58, `${location(tokens.sql, at)}: Cannot cast type ${value.kind} to ${kind === 'duration' ? 'interval day to second' : 'varchar'}`);
      if (kind === 'data size' && !DATA_SIZE.test(value.value)) throw new TrinoFailure('INVALID_PROCEDURE_ARGUMENT', 24, `${location(tokens.sql, at)}: Invalid data size: ${value.value}`);
      if (kind === 'duration') {
        const match = DURATION.exec(value.value);
        if (!match) throw new TrinoFailure('INVALID_PROCEDURE_ARGUMENT', 24, `${location(tokens.sql, at)}: Invalid duration: ${value.value}`);
        const days = Number(match[1]) * (DAYS_PER_UNIT[match[2] ?? 'd'] ?? 1);
        if (days < MIN_RETENTION_DAYS) {
          throw new TrinoFailure(
            'INVALID_PROCEDURE_ARGUMENT',
            24,
            `Retention specified (${days.toFixed(2)}d) is shorter than the minimum retention configured in the system (${MIN_RETENTION_DAYS.toFixed(2)}d). Minimum retention can be changed with iceberg.${procedure.replaceAll('_', '-')}.min-retention configuration property or iceberg.${procedure}_min_retention session property`,
          );
        }
      }
      if (tokens.acceptSymbol(',')) continue;
      tokens.expectSymbol(')');
      break;
    }
  }
  const rest = tokens.peek();
  if (rest.kind !== 'end' && !(procedure === 'optimize' && rest.text.toUpperCase() === 'WHERE')) {
    throw new TrinoFailure('SYNTAX_ERROR', 1, `${location(tokens.sql, rest.start)}: mismatched input '${rest.text}'. Expecting: <EOF>`);
  }
  // Nothing to compact or expire in DuckDB: the statement is answered once checked.
  return { updateType: 'ALTER TABLE EXECUTE', countsRows: false, sql: 'SELECT 1', values: [] };
}

async function insertStatement(tokens: Lexer, params: readonly FixtureValue[], session: FixtureSession, columnsOf: ColumnsOf): Promise<FixtureUpdate> {
  tokens.next();
  tokens.expectWord('INTO');
  const nameAt = tokens.peek().start;
  const name = qualifiedName(tokens, session, 'table');
  const tableColumns = await columnsOf(name.schema, name.table);
  if (!tableColumns) throw new TrinoFailure('TABLE_NOT_FOUND', 46, `${location(tokens.sql, nameAt)}: Table '${session.catalog}.${name.schema}.${name.table}' does not exist`);
  let targets = tableColumns;
  if (tokens.acceptSymbol('(')) {
    targets = [];
    for (;;) {
      const at = tokens.peek().start;
      const column = tokens.expectIdentifier();
      const found = tableColumns.find((c) => c.name === column);
      if (!found) throw new TrinoFailure('COLUMN_NOT_FOUND', 47, `${location(tokens.sql, at)}: Insert column name does not exist in target table: ${column}`);
      if (targets.includes(found)) throw new TrinoFailure('DUPLICATE_COLUMN_NAME', 54, `${location(tokens.sql, at)}: Insert column name is specified more than once: ${column}`);
      targets.push(found);
      if (tokens.acceptSymbol(',')) continue;
      tokens.expectSymbol(')');
      break;
    }
  }
  const columnList = `(${targets.map((c) => quote(c.name)).join(', ')})`;
  const next = tokens.peek();
  const writes = { ...name, operation: 'append' as const };
  if (next.kind !== 'word' || next.text.toUpperCase() !== 'VALUES' || params.length > 0) {
    // INSERT ... SELECT, or VALUES with parameters and expressions (CAST(? AS ...)): DuckDB runs
    // it with the bound literals (its types are not checked against the table).
    return { updateType: 'INSERT', countsRows: true, sql: `INSERT INTO ${duckName(name)} ${columnList} ${tokens.sql.slice(next.start)}`, values: [...params], writes };
  }
  tokens.next();
  const rows = valuesRows(tokens.sql, tokens.peek().start);
  const values: FixtureValue[] = [];
  for (const row of rows) {
    const types = row.values.map(literalType);
    if (row.values.length !== targets.length || types.some((type, i) => !canCoerce(type, (targets[i] as FixtureColumn).type))) {
      throw new TrinoFailure(
        'TYPE_MISMATCH',
        58,
        `${location(tokens.sql, row.at)}: Insert query has mismatched column types: Table: [${targets.map((c) => c.type).join(', ')}], Query: [${types.join(', ')}]`,
      );
    }
    values.push(...row.values);
  }
  const placeholders = rows.map(() => `(${targets.map(() => '?').join(', ')})`).join(', ');
  return { updateType: 'INSERT', countsRows: true, sql: `INSERT INTO ${duckName(name)} ${columnList} VALUES ${placeholders}`, values, writes };
}

/** `(literal, ...), (literal, ...)` to the end of the statement: the rows of an INSERT's VALUES. */
function valuesRows(sql: string, start: number): { at: number; values: FixtureValue[] }[] {
  const rows: { at: number; values: FixtureValue[] }[] = [];
  let i = start;
  const skipSpaces = () => {
    while (i < sql.length && /\s/.test(sql[i] ?? '')) i += 1;
  };
  const expect = (symbol: string) => {
    skipSpaces();
    if (sql[i] !== symbol) throw new TrinoFailure('SYNTAX_ERROR', 1, `${location(sql, i)}: mismatched input '${sql.slice(i, i + 10)}'. Expecting: '${symbol}'`);
    i += 1;
  };
  for (;;) {
    skipSpaces();
    const at = i;
    if (sql[i] !== '(') throw new TrinoFailure('NOT_SUPPORTED', 13, `fixture: ${location(sql, i)}: INSERT ... VALUES rows are served as parenthesised literals only`);
    i += 1;
    const values: FixtureValue[] = [];
    for (;;) {
      const { value, end } = readLiteral(sql, i);
      values.push(value);
      i = end;
      skipSpaces();
      if (sql[i] === ',') {
        i += 1;
        continue;
      }
      expect(')');
      break;
    }
    rows.push({ at, values });
    skipSpaces();
    if (i >= sql.length) return rows;
    expect(',');
  }
}

// ---------------------------------------------------------------------------------------------
// Types and table properties of the Iceberg connector.

interface ParsedType {
  name: string;
  args: (number | ParsedType)[];
  withTimeZone: boolean;
}

function parseType(tokens: Lexer): ParsedType {
  let name = tokens.expectIdentifier();
  if (name === 'double') tokens.acceptWords('PRECISION');
  const args: (number | ParsedType)[] = [];
  if (tokens.acceptSymbol('(')) {
    for (;;) {
      const next = tokens.peek();
      if (next.kind === 'number') {
        tokens.next();
        args.push(Number(next.text));
      } else {
        args.push(parseType(tokens));
      }
      if (tokens.acceptSymbol(',')) continue;
      tokens.expectSymbol(')');
      break;
    }
  }
  let withTimeZone = false;
  if (tokens.acceptWords('WITH', 'TIME', 'ZONE')) withTimeZone = true;
  else tokens.acceptWords('WITHOUT', 'TIME', 'ZONE');
  if (name === 'int') name = 'integer';
  return { name, args, withTimeZone };
}

/**
 * Trino's type as the Iceberg connector stores it, and DuckDB's equivalent. Iceberg has
 * unbounded strings and microsecond times only: `varchar(n)`, `char`, `tinyint`, `smallint` and
 * timestamps of another precision are refused (`TIMESTAMP` alone is `timestamp(3)` in Trino).
 */
function icebergType(type: ParsedType, sql: string, at: number): { trinoType: string; duckdbType: string } {
  const display = displayType(type);
  const unsupported = () => new TrinoFailure('NOT_SUPPORTED', 13, `${location(sql, at)}: Type not supported for Iceberg: ${display}`);
  const simple: Record<string, string> = { boolean: 'BOOLEAN', integer: 'INTEGER', bigint: 'BIGINT', real: 'FLOAT', double: 'DOUBLE', date: 'DATE', varbinary: 'BLOB', uuid: 'UUID' };
  const plain = simple[type.name];
  if (plain !== undefined) {
    if (type.args.length > 0) throw new TrinoFailure('TYPE_NOT_FOUND', 43, `${location(sql, at)}: Unknown type: ${display}`);
    return { trinoType: type.name, duckdbType: plain };
  }
  switch (type.name) {
    case 'varchar':
      if (type.args.length > 0) throw unsupported();
      return { trinoType: 'varchar', duckdbType: 'VARCHAR' };
    case 'decimal': {
      const [precision = 38, scale = 0] = type.args;
      if (typeof precision !== 'number' || typeof scale !== 'number') throw new TrinoFailure('TYPE_NOT_FOUND', 43, `${location(sql, at)}: Unknown type: ${display}`);
      return { trinoType: `decimal(${precision},${scale})`, duckdbType: `DECIMAL(${precision}, ${scale})` };
    }
    case 'timestamp': {
      const [precision = 3] = type.args;
      if (precision !== 6) throw unsupported();
      return type.withTimeZone ? { trinoType: 'timestamp(6) with time zone', duckdbType: 'TIMESTAMPTZ' } : { trinoType: 'timestamp(6)', duckdbType: 'TIMESTAMP' };
    }
    case 'array': {
      const [element] = type.args;
      if (type.args.length !== 1 || element === undefined || typeof element === 'number') throw new TrinoFailure('TYPE_NOT_FOUND', 43, `${location(sql, at)}: Unknown type: ${display}`);
      const inner = icebergType(element, sql, at);
      return { trinoType: `array(${inner.trinoType})`, duckdbType: `${inner.duckdbType}[]` };
    }
    case 'tinyint':
    case 'smallint':
    case 'char':
    case 'time':
      throw unsupported();
    case 'map':
    case 'row':
      throw new TrinoFailure('NOT_SUPPORTED', 13, `fixture: ${location(sql, at)}: ${type.name} columns are not served`);
    default:
      throw new TrinoFailure('TYPE_NOT_FOUND', 43, `${location(sql, at)}: Unknown type: ${display}`);
  }
}

function displayType(type: ParsedType): string {
  const args = type.args.length > 0 ? `(${type.args.map((a) => (typeof a === 'number' ? String(a) : displayType(a))).join(', ')})` : '';
  const precision = type.name === 'timestamp' && type.args.length === 0 ? '(3)' : '';
  return `${type.name}${args}${precision}${type.withTimeZone ? ' with time zone' : ''}`;
}

interface Property {
  name: string;
  at: number;
  value: FixtureValue;
}

/** `( name = literal, ... )` */
function properties(tokens: Lexer): Property[] {
  tokens.expectSymbol('(');
  const list: Property[] = [];
  for (;;) {
    const at = tokens.peek().start;
    const name = tokens.expectIdentifier();
    tokens.expectSymbol('=');
    const { value, end } = readLiteral(tokens.sql, tokens.peek().start);
    tokens.seek(end);
    if (list.some((p) => p.name === name)) throw new TrinoFailure('DUPLICATE_PROPERTY', 79, `${location(tokens.sql, at)}: Duplicate property: ${name}`);
    list.push({ name, at, value });
    if (tokens.acceptSymbol(',')) continue;
    tokens.expectSymbol(')');
    return list;
  }
}

/** The Iceberg connector's table properties (https://trino.io/docs/current/connector/iceberg.html#table-properties). */
const TABLE_PROPERTIES = new Set([
  'format',
  'format_version',
  'partitioning',
  'sorted_by',
  'location',
  'max_commit_retry',
  'orc_bloom_filter_columns',
  'orc_bloom_filter_fpp',
  'parquet_bloom_filter_columns',
  'object_store_layout_enabled',
  'data_location',
  'extra_properties',
]);

function checkTableProperties(tokens: Lexer, list: readonly Property[], columns: readonly ColumnDefinition[], session: FixtureSession): void {
  for (const property of list) {
    const at = location(tokens.sql, property.at);
    const invalid = (detail: string) => new TrinoFailure('INVALID_TABLE_PROPERTY', 18, `${at}: Unable to set catalog '${session.catalog}' table property '${property.name}': ${detail}`);
    if (!TABLE_PROPERTIES.has(property.name)) {
      throw new TrinoFailure('INVALID_TABLE_PROPERTY', 18, `${at}: Catalog '${session.catalog}' table property '${property.name}' does not exist`);
    }
    const { value } = property;
    if (property.name === 'format') {
      if (value.kind !== 'varchar' || !['PARQUET', 'ORC', 'AVRO'].includes(value.value.toUpperCase())) throw invalid('expected PARQUET, ORC or AVRO');
    } else if (property.name === 'partitioning' || property.name === 'sorted_by') {
      if (value.kind !== 'array' || value.items.some((item) => item.kind !== 'varchar')) throw invalid('expected ARRAY of varchar');
      for (const item of value.items) {
        const field = (item as { value: string }).value;
        if (property.name === 'partitioning') checkPartitionField(field, columns, at);
        else if (!columns.some((c) => c.name === field.replace(/\s+(ASC|DESC)(\s+NULLS\s+(FIRST|LAST))?$/i, '').toLowerCase())) {
          throw new TrinoFailure('INVALID_TABLE_PROPERTY', 18, `${at}: Column not found: ${field}`);
        }
      }
    }
  }
}

/** An Iceberg partition field (`col`, `year|month|day|hour(col)`, `bucket(col, n)`, `truncate(col, n)`, `void(col)`) over a declared column of a type the transform takes. */
function checkPartitionField(field: string, columns: readonly ColumnDefinition[], at: string): void {
  const match = /^\s*(?:(year|month|day|hour|void)\s*\(\s*([a-z_][a-z0-9_]*)\s*\)|(bucket|truncate)\s*\(\s*([a-z_][a-z0-9_]*)\s*,\s*(\d+)\s*\)|([a-z_][a-z0-9_]*))\s*$/i.exec(field);
  if (!match) throw new TrinoFailure('INVALID_TABLE_PROPERTY', 18, `${at}: Invalid partition field declaration: ${field}`);
  const transform = (match[1] ?? match[3] ?? 'identity').toLowerCase();
  const name = (match[2] ?? match[4] ?? match[6] ?? '').toLowerCase();
  const column = columns.find((c) => c.name === name);
  if (!column) throw new TrinoFailure('INVALID_TABLE_PROPERTY', 18, `${at}: Cannot find source column: ${name}`);
  const type = column.trinoType;
  const temporal = type === 'date' || type.startsWith('timestamp');
  const fits =
    transform === 'year' || transform === 'month' || transform === 'day' ? temporal
    : transform === 'hour' ? type.startsWith('timestamp')
    : transform === 'truncate' ? ['integer', 'bigint', 'varchar'].includes(type) || type.startsWith('decimal')
    : !type.startsWith('array(');
  if (!fits) throw new TrinoFailure('INVALID_TABLE_PROPERTY', 18, `${at}: Invalid source type ${type} for transform: ${transform}`);
}

// ---------------------------------------------------------------------------------------------
// Names and tokens.

interface TableName {
  schema: string;
  table: string;
}

/** `[catalog.]schema[.table]`: Trino folds identifiers to lower case; the catalog must be the session's. */
function qualifiedName(tokens: Lexer, session: FixtureSession, kind: 'schema'): { schema: string };
function qualifiedName(tokens: Lexer, session: FixtureSession, kind: 'table'): TableName;
function qualifiedName(tokens: Lexer, session: FixtureSession, kind: 'schema' | 'table'): { schema: string; table?: string } {
  const at = tokens.peek().start;
  const parts = [tokens.expectIdentifier()];
  while (tokens.acceptSymbol('.')) parts.push(tokens.expectIdentifier());
  const max = kind === 'schema' ? 2 : 3;
  if (parts.length > max) throw new TrinoFailure('SYNTAX_ERROR', 1, `${location(tokens.sql, at)}: Too many dots in ${kind} name: ${parts.join('.')}`);
  if (parts.length === max) {
    const catalog = parts.shift() as string;
    if (catalog !== session.catalog.toLowerCase()) throw new TrinoFailure('CATALOG_NOT_FOUND', 44, `${location(tokens.sql, at)}: Catalog '${catalog}' not found`);
  }
  if (kind === 'schema') return { schema: parts[0] as string };
  return parts.length === 1 ? { schema: session.schema.toLowerCase(), table: parts[0] as string } : { schema: parts[0] as string, table: parts[1] as string };
}

function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

function duckName(name: TableName): string {
  return `${quote(name.schema)}.${quote(name.table)}`;
}

interface Token {
  kind: 'word' | 'quoted' | 'string' | 'number' | 'symbol' | 'end';
  /** The word or symbol as written; for `quoted` and `string`, the value. */
  text: string;
  start: number;
  end: number;
}

interface Lexer {
  readonly sql: string;
  peek(): Token;
  next(): Token;
  /** Continues reading at `offset` (after something read by other means, e.g. a literal). */
  seek(offset: number): void;
  /** Consumes the words if they come next (all of them), else nothing. */
  acceptWords(...words: string[]): boolean;
  acceptSymbol(symbol: string): boolean;
  expectWord(...choices: string[]): string;
  expectSymbol(symbol: string): void;
  expectIdentifier(): string;
  expectString(): string;
  expectEnd(): void;
}

/** Tokens read on demand, so the long tail of an INSERT (its VALUES) is left to the literal reader. */
function lexer(sql: string): Lexer {
  let position = 0;
  const read = (from: number): Token => {
    let i = from;
    for (;;) {
      while (i < sql.length && /\s/.test(sql[i] ?? '')) i += 1;
      if (sql.startsWith('--', i)) {
        while (i < sql.length && sql[i] !== '\n') i += 1;
      } else if (sql.startsWith('/*', i)) {
        const close = sql.indexOf('*/', i + 2);
        i = close === -1 ? sql.length : close + 2;
      } else break;
    }
    if (i >= sql.length) return { kind: 'end', text: '<EOF>', start: i, end: i };
    const c = sql[i] as string;
    if (c === "'" || c === '"') {
      let value = '';
      let j = i + 1;
      for (; j < sql.length; j += 1) {
        if (sql[j] === c) {
          if (sql[j + 1] !== c) break;
          j += 1;
        }
        value += sql[j];
      }
      if (j >= sql.length) throw new TrinoFailure('SYNTAX_ERROR', 1, `${location(sql, i)}: unterminated ${c === "'" ? 'string' : 'quoted identifier'}`);
      return { kind: c === "'" ? 'string' : 'quoted', text: value, start: i, end: j + 1 };
    }
    const word = /^[A-Za-z_][A-Za-z0-9_@$]*/.exec(sql.slice(i, i + 256))?.[0];
    if (word) return { kind: 'word', text: word, start: i, end: i + word.length };
    const number = /^\d+/.exec(sql.slice(i, i + 64))?.[0];
    if (number) return { kind: 'number', text: number, start: i, end: i + number.length };
    return { kind: 'symbol', text: c, start: i, end: i + 1 };
  };
  const mismatch = (token: Token, expecting: string) =>
    new TrinoFailure('SYNTAX_ERROR', 1, `${location(sql, token.start)}: mismatched input '${token.text}'. Expecting: ${expecting}`);
  const lex: Lexer = {
    sql,
    peek: () => read(position),
    next() {
      const token = read(position);
      position = token.end;
      return token;
    },
    seek(offset) {
      position = offset;
    },
    acceptWords(...words) {
      let at = position;
      for (const word of words) {
        const token = read(at);
        if (token.kind !== 'word' || token.text.toUpperCase() !== word) return false;
        at = token.end;
      }
      position = at;
      return true;
    },
    acceptSymbol(symbol) {
      const token = read(position);
      if (token.kind !== 'symbol' || token.text !== symbol) return false;
      position = token.end;
      return true;
    },
    expectWord(...choices) {
      const token = read(position);
      const upper = token.text.toUpperCase();
      if (token.kind !== 'word' || !choices.includes(upper)) throw mismatch(token, choices.map((c) => `'${c}'`).join(', '));
      position = token.end;
      return upper;
    },
    expectSymbol(symbol) {
      if (!lex.acceptSymbol(symbol)) throw mismatch(read(position), `'${symbol}'`);
    },
    expectIdentifier() {
      const token = read(position);
      if (token.kind !== 'word' && token.kind !== 'quoted') throw mismatch(token, '<identifier>');
      position = token.end;
      return token.text.toLowerCase();
    },
    expectString() {
      const token = read(position);
      if (token.kind !== 'string') throw mismatch(token, '<string>');
      position = token.end;
      return token.text;
    },
    expectEnd() {
      const token = read(position);
      if (token.kind !== 'end') throw mismatch(token, '<EOF>');
    },
  };
  return lex;
}
