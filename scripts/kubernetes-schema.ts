/**
 * Writes the strict JSON Schema the Kubernetes manifests are validated against offline
 * (test/kubernetes.test.ts), from a Kubernetes release's OpenAPI v2 document (`swagger.json`,
 * `api/openapi-spec/swagger.json` of that release):
 *
 *   node scripts/kubernetes-schema.ts path/to/swagger.json v1.35.0
 *
 * Only the kinds deploy/kubernetes uses and the definitions they reach are kept, without
 * descriptions, so the vendored file stays small. The output is strict, as the API server is
 * with `kubectl apply --validate=strict`: an object with declared properties refuses any other
 * (a misspelt field fails instead of being dropped), and the API's two union scalars get their
 * real JSON types (IntOrString: a string or an integer; Quantity: a string or a number).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The kinds the manifests use. Add one here, run the script again, and commit the output. */
const KINDS = [
  'io.k8s.api.apps.v1.Deployment',
  'io.k8s.api.core.v1.Service',
  'io.k8s.api.core.v1.ConfigMap',
  'io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler',
  'io.k8s.api.policy.v1.PodDisruptionBudget',
];

type Schema = { [key: string]: unknown };

const [source, release] = process.argv.slice(2);
if (!source || !release) {
  process.stderr.write('usage: node scripts/kubernetes-schema.ts <swagger.json> <release, e.g. v1.35.0>\n');
  process.exit(2);
}
const definitions = (JSON.parse(readFileSync(source, 'utf8')) as { definitions: Record<string, Schema> }).definitions;

const kept: Record<string, Schema> = {};
const pending = [...KINDS];
while (pending.length > 0) {
  const name = pending.pop()!;
  if (kept[name]) continue;
  const definition = definitions[name];
  if (!definition) throw new Error(`${name} is not defined in ${source}`);
  kept[name] = strict(definition, pending);
}

/** The definition without documentation, with closed objects and JSON types for the union scalars. */
function strict(node: Schema, refs: string[]): Schema {
  if (node.format === 'int-or-string') return { anyOf: [{ type: 'string' }, { type: 'integer' }] };
  const out: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    // Documentation and the API machinery's own keywords (list maps, patch strategies) validate nothing.
    if (key === 'description' || (key.startsWith('x-kubernetes-') && key !== 'x-kubernetes-group-version-kind')) continue;
    if (key === '$ref' && typeof value === 'string') {
      refs.push(value.replace('#/definitions/', ''));
      out[key] = value;
    } else if (key === 'properties') {
      out[key] = Object.fromEntries(Object.entries(value as Record<string, Schema>).map(([name, property]) => [name, strict(property, refs)]));
    } else if (key === 'items' || key === 'additionalProperties') {
      out[key] = typeof value === 'object' && value !== null ? strict(value as Schema, refs) : value;
    } else if (key === 'format') {
      // int32/int64/double say nothing a JSON type does not; date-time, byte and the rest are not checked offline.
      continue;
    } else out[key] = value;
  }
  if (node.properties && node.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

// Quantity is declared a string, but the API takes plain numbers too (`cpu: 1`).
kept['io.k8s.apimachinery.pkg.api.resource.Quantity'] = { anyOf: [{ type: 'string' }, { type: 'number' }] };

const target = path.join(import.meta.dirname, '..', 'test', 'fixtures', 'kubernetes', `schema-${release}.json`);
const sorted = Object.fromEntries(Object.keys(kept).sort().map((name) => [name, kept[name]]));
writeFileSync(target, `${JSON.stringify({ release, kinds: KINDS, definitions: sorted })}\n`);
process.stdout.write(`${target}: ${Object.keys(sorted).length} definitions\n`);
