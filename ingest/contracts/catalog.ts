import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deriveAvroContract, type AvroContract, type AvroRecord } from './avro.ts';

/** The folder of the contracts (`<name>.v<N>.schema.json`, each with its `<name>.v<N>.avsc`). */
export const CONTRACTS_DIR = path.dirname(fileURLToPath(import.meta.url));

const CONTRACT_FILE = /^([a-z][a-z0-9_]*)\.v([1-9][0-9]*)\.schema\.json$/;
const AVSC_FILE = /^([a-z][a-z0-9_]*)\.v([1-9][0-9]*)\.avsc$/;

/** One contract and the files that belong to it (absolute paths). */
export interface ContractFiles {
  /** `booking_event` of `booking_event.v1.schema.json`. */
  name: string;
  version: number;
  schemaFile: string;
  avscFile: string;
  /** Valid sample records, a JSON array: `examples/<name>.v<N>.json`. */
  examplesFile: string;
}

/** Every contract of a folder, by name and version. */
export function listContracts(dir = CONTRACTS_DIR): ContractFiles[] {
  return readdirSync(dir)
    .flatMap((file) => {
      const match = CONTRACT_FILE.exec(file);
      if (!match) return [];
      const [, name = '', version = ''] = match;
      const base = path.join(dir, `${name}.v${version}`);
      return [{ name, version: Number(version), schemaFile: `${base}.schema.json`, avscFile: `${base}.avsc`, examplesFile: path.join(dir, 'examples', `${name}.v${version}.json`) }];
    })
    .sort((a, b) => a.name.localeCompare(b.name) || a.version - b.version);
}

/** Reads a contract's JSON Schema and derives its Avro schema and value conversion. */
export function loadAvroContract(files: ContractFiles): AvroContract {
  let contract: unknown;
  try {
    contract = JSON.parse(readFileSync(files.schemaFile, 'utf8'));
  } catch (error) {
    throw new Error(`${files.schemaFile}: cannot read the contract: ${(error as Error).message}`, { cause: error });
  }
  return deriveAvroContract(contract, { name: files.name, version: files.version });
}

/** The .avsc text of a derived schema: what is checked in, byte for byte. */
export function renderAvsc(schema: AvroRecord): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

/** A .avsc that does not match its contract. */
export interface AvscProblem {
  /** Path of the .avsc, relative to the contracts folder. */
  file: string;
  problem: 'missing' | 'differs' | 'orphan';
}

/**
 * Compares every checked-in .avsc with what its contract derives. `missing`: the contract has
 * no .avsc; `differs`: the .avsc is not the derived text; `orphan`: a .avsc without a contract.
 */
export function checkAvscFiles(dir = CONTRACTS_DIR): AvscProblem[] {
  const contracts = listContracts(dir);
  const problems: AvscProblem[] = [];
  for (const files of contracts) {
    const expected = renderAvsc(loadAvroContract(files).schema);
    const file = path.relative(dir, files.avscFile);
    if (!existsSync(files.avscFile)) problems.push({ file, problem: 'missing' });
    else if (readFileSync(files.avscFile, 'utf8') !== expected) problems.push({ file, problem: 'differs' });
  }
  const known = new Set(contracts.map((c) => path.basename(c.avscFile)));
  for (const file of readdirSync(dir)) {
    if (file.endsWith('.avsc') && (!AVSC_FILE.test(file) || !known.has(file))) problems.push({ file, problem: 'orphan' });
  }
  return problems;
}

/** Writes every contract's .avsc; returns the ones whose content changed (relative paths). */
export function writeAvscFiles(dir = CONTRACTS_DIR): string[] {
  const written: string[] = [];
  for (const files of listContracts(dir)) {
    const text = renderAvsc(loadAvroContract(files).schema);
    if (existsSync(files.avscFile) && readFileSync(files.avscFile, 'utf8') === text) continue;
    writeFileSync(files.avscFile, text);
    written.push(path.relative(dir, files.avscFile));
  }
  return written;
}
