import path from 'node:path';
import { parseArgs } from 'node:util';
import { CONTRACTS_DIR, checkAvscFiles, writeAvscFiles } from './catalog.ts';

/**
 * `node ingest/contracts/cli.ts [--check] [--dir <folder>]`: writes every contract's .avsc from
 * its JSON Schema, or with `--check` changes nothing and exits 1 naming each .avsc that is
 * missing, differs from what its contract derives, or has no contract (the CI check).
 * Exit 2: bad arguments, or a contract that cannot be derived (the message names its path).
 */
let values: { check?: boolean; dir?: string };
try {
  ({ values } = parseArgs({ options: { check: { type: 'boolean', default: false }, dir: { type: 'string' } } }));
} catch (error) {
  process.stderr.write(`contracts: ${(error as Error).message}\nusage: node ingest/contracts/cli.ts [--check] [--dir <folder>]\n`);
  process.exit(2);
}
const dir = path.resolve(values.dir ?? CONTRACTS_DIR);

try {
  if (values.check) {
    const problems = checkAvscFiles(dir);
    for (const { file, problem } of problems) {
      const why =
        problem === 'missing'
          ? 'is missing'
          : problem === 'differs'
            ? 'differs from what its JSON Schema derives'
            : 'has no <name>.v<N>.schema.json beside it';
      process.stderr.write(`contracts: ${file} ${why}\n`);
    }
    if (problems.length > 0) {
      process.stderr.write('contracts: run `node ingest/contracts/cli.ts` to regenerate the .avsc files from the JSON Schemas.\n');
      process.exit(1);
    }
    process.stdout.write('contracts: every .avsc matches its JSON Schema\n');
  } else {
    const written = writeAvscFiles(dir);
    process.stdout.write(written.length > 0 ? `contracts: wrote ${written.join(', ')}\n` : 'contracts: every .avsc was up to date\n');
    const orphans = checkAvscFiles(dir).filter((p) => p.problem === 'orphan');
    if (orphans.length > 0) {
      process.stderr.write(`contracts: ${orphans.map((o) => o.file).join(', ')} ha${orphans.length > 1 ? 've' : 's'} no JSON Schema; delete or rename it\n`);
      process.exit(1);
    }
  }
} catch (error) {
  process.stderr.write(`contracts: ${(error as Error).message}\n`);
  process.exit(2);
}
