import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { configVariables } from './helpers/config-variables.ts';

// The manifests are validated offline, with no cluster, against the strict JSON Schema of one
// Kubernetes release (test/fixtures/kubernetes, written from the release's OpenAPI document by
// scripts/kubernetes-schema.ts): an unknown field or a wrong type fails here, as the API server
// would refuse it with `kubectl apply --validate=strict`.

const ROOT = path.join(import.meta.dirname, '..');
const DIR = path.join(ROOT, 'deploy', 'kubernetes');
const SCHEMA = JSON.parse(readFileSync(path.join(ROOT, 'test', 'fixtures', 'kubernetes', 'schema-v1.35.0.json'), 'utf8')) as {
  definitions: Record<string, { 'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[] }>;
};

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: any };

/** One validator per `apiVersion` and `kind` the vendored schema defines. */
function kubernetesValidators(): Map<string, ValidateFunction> {
  const ajv = new Ajv({ allErrors: true, strict: true });
  ajv.addKeyword('x-kubernetes-group-version-kind');
  ajv.addSchema({ $id: 'k8s', definitions: SCHEMA.definitions });
  const validators = new Map<string, ValidateFunction>();
  for (const [name, definition] of Object.entries(SCHEMA.definitions)) {
    for (const { group, version, kind } of definition['x-kubernetes-group-version-kind'] ?? []) {
      validators.set(`${group === '' ? version : `${group}/${version}`} ${kind}`, ajv.getSchema(`k8s#/definitions/${name}`)!);
    }
  }
  return validators;
}

const validators = kubernetesValidators();

/** Problems of one manifest against its kind's schema; empty when the API server would take it. */
function problems(manifest: unknown): string[] {
  const { apiVersion, kind } = (manifest ?? {}) as Partial<Manifest>;
  const validate = validators.get(`${apiVersion} ${kind}`);
  if (!validate) return [`no schema for ${apiVersion} ${kind}`];
  if (validate(manifest)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.keyword === 'additionalProperties' ? `: ${(e.params as { additionalProperty: string }).additionalProperty}` : ''}`);
}

const kustomization = parse(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8')) as {
  resources: string[];
  configMapGenerator: { name: string; envs: string[] }[];
};

/** Every document of every resource the kustomization applies. */
const manifests: { file: string; manifest: Manifest }[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8')).map((document) => {
    expect(document.errors, file).toEqual([]);
    return { file, manifest: document.toJS() as Manifest };
  }),
);

function manifest(kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.manifest.kind === kind && m.manifest.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in deploy/kubernetes`);
  return found.manifest;
}

/** KEY=VALUE lines of an env file (as kustomize's `envs` and `kubectl --from-env-file` read them). */
function envFile(file: string): Map<string, string> {
  const entries = readFileSync(path.join(DIR, file), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const);
  return new Map(entries);
}

/** The ConfigMaps the kustomization generates, by name. */
const configMaps = new Map(kustomization.configMapGenerator.map((g) => [g.name, new Map(g.envs.flatMap((file) => [...envFile(file)]))]));

/** The example env file listing a Secret's keys (the Secrets themselves are never committed). */
const secretExample = (name: string) => `${name.replace(/^nexus-/, '')}-secret.example.env`;

/** Each container's environment: every variable name, where it comes from, and its literal value if any. */
function containerEnv(deployment: Manifest): { name: string; value?: string; secret?: { name: string; key: string } }[] {
  const [container] = deployment.spec.template.spec.containers as any[];
  const fromConfigMaps = (container.envFrom ?? []).flatMap((source: any) => {
    if (!source.configMapRef) throw new Error(`${deployment.metadata.name}: envFrom only from ConfigMaps, so every variable name is in the repository`);
    const data = configMaps.get(source.configMapRef.name);
    if (!data) throw new Error(`${deployment.metadata.name}: no generated ConfigMap ${source.configMapRef.name}`);
    return [...data].map(([name, value]) => ({ name, value }));
  });
  const direct = (container.env ?? []).map((e: any) => ({ name: e.name, value: e.value, secret: e.valueFrom?.secretKeyRef }));
  return [...fromConfigMaps, ...direct];
}

const deployments = manifests.filter((m) => m.manifest.kind === 'Deployment').map((m) => m.manifest);

describe('Kubernetes manifests against the API schema (v1.35, offline)', () => {
  it('apply every manifest file of the folder, and only existing files', () => {
    const yamlFiles = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
    expect([...kustomization.resources].sort()).toEqual(yamlFiles);
    for (const file of kustomization.configMapGenerator.flatMap((g) => g.envs)) expect(existsSync(path.join(DIR, file)), file).toBe(true);
    expect(manifests.length).toBeGreaterThanOrEqual(6);
  });

  it.each(kustomization.resources)('%s is valid for its kind', (file) => {
    for (const { manifest: m } of manifests.filter((entry) => entry.file === file)) expect(problems(m), `${m.kind} ${m.metadata.name}`).toEqual([]);
  });

  it('refuses an unknown field, a wrong type and an unknown kind', () => {
    const broken = (yaml: string) => problems(parse(yaml));
    const deployment = (container: string, replicas = '2') => `
apiVersion: apps/v1
kind: Deployment
metadata: { name: broken }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: broken } }
  template:
    metadata: { labels: { app: broken } }
    spec:
      containers:
        - name: app
          image: app
${container}`;
    expect(broken(deployment(''))).toEqual([]);
    expect(broken(deployment('          imagePullPolcy: Always'))).toEqual(['/spec/template/spec/containers/0 must NOT have additional properties: imagePullPolcy']);
    expect(broken(deployment('', '"two"'))).toEqual(['/spec/replicas must be integer']);
    expect(broken(deployment('          readinessProbe: { httpGet: { path: /ready, port: [4000] } }'))[0]).toMatch(/^\/spec\/template\/spec\/containers\/0\/readinessProbe\/httpGet\/port must be/);
    expect(broken('apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x, labls: {} }\n')).toEqual(['/metadata must NOT have additional properties: labls']);
    expect(broken('apiVersion: apps/v1\nkind: Deploymnt\nmetadata: { name: x }\n')).toEqual(['no schema for apps/v1 Deploymnt']);
  });
});

describe('Kubernetes manifests and the configuration', () => {
  const read = configVariables();

  it('set only variables src/config.ts reads', () => {
    for (const deployment of deployments) {
      const unread = containerEnv(deployment).filter(({ name }) => !read.has(name)).map(({ name }) => name);
      expect(unread, deployment.metadata.name).toEqual([]);
    }
  });

  it('take secrets by reference, from keys the example files list', () => {
    for (const deployment of deployments) {
      for (const { name, secret } of containerEnv(deployment).filter((e) => e.secret)) {
        expect(secret!.key, `${deployment.metadata.name} ${name}`).toBe(name);
        expect([...envFile(secretExample(secret!.name)).keys()], `${secretExample(secret!.name)} lists ${name}`).toContain(name);
      }
    }
    for (const file of readdirSync(DIR).filter((f) => f.endsWith('-secret.example.env'))) {
      expect([...envFile(file).keys()].filter((name) => !read.has(name)), file).toEqual([]);
    }
    // Credentials never sit in a ConfigMap.
    for (const data of configMaps.values()) for (const name of ['API_KEYS', 'JWT_SECRET', 'TRINO_URL', 'CLICKHOUSE_URL', 'ELASTICSEARCH_URL', 'REDIS_URL']) expect(data.has(name), name).toBe(false);
  });

  it('would fail on a variable the configuration does not read', () => {
    const misspelt = { ...manifest('Deployment', 'nexus-gateway') };
    misspelt.spec = structuredClone(misspelt.spec);
    misspelt.spec.template.spec.containers[0].env.push({ name: 'MEDALION', value: 'off' });
    expect(containerEnv(misspelt).filter(({ name }) => !read.has(name)).map(({ name }) => name)).toEqual(['MEDALION']);
  });

  it('run the medallion in its own Deployment only: MEDALLION=off on the gateways', () => {
    const gateway = containerEnv(manifest('Deployment', 'nexus-gateway'));
    expect(gateway.find((e) => e.name === 'MEDALLION')?.value).toBe('off');
    const worker = manifest('Deployment', 'nexus-medallion');
    expect(worker.spec.template.spec.containers[0].command).toEqual(['node', 'ingest/medallion/worker-main.ts']);
    expect(containerEnv(worker).map((e) => e.name)).toEqual(expect.arrayContaining(['KAFKA_BROKERS', 'TRINO_URL', 'MEDALLION_GROUP_ID']));
  });
});

/** The seconds after which a process entry exits on its own once asked to stop (its forced `process.exit(1)`). */
function exitBoundSeconds(entry: string): number {
  const match = /setTimeout\(\(\) => process\.exit\(1\), ([\d_]+)\)/.exec(readFileSync(path.join(ROOT, entry), 'utf8'));
  if (!match) throw new Error(`${entry}: no forced exit found; state its shutdown bound for the grace period`);
  return Number(match[1]!.replaceAll('_', '')) / 1000;
}

describe('Kubernetes medallion worker deployment', () => {
  it('runs one active replica and a standby, and gives it the time to leave its group', () => {
    const worker = manifest('Deployment', 'nexus-medallion');
    expect(worker.spec.replicas).toBe(2);
    expect(worker.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(exitBoundSeconds('ingest/medallion/worker-main.ts'));
  });
});

describe('Kubernetes gateway deployment', () => {
  const gateway = manifest('Deployment', 'nexus-gateway');
  const pod = gateway.spec.template;
  const container = pod.spec.containers[0];

  it('is ready only while not draining, and alive without asking a backend', () => {
    expect(container.readinessProbe.httpGet.path).toBe('/ready');
    expect(container.livenessProbe.httpGet.path).toBe('/live');
    // The grace period covers the preStop pause and then the process's own bound on draining.
    const pause = Number(container.lifecycle.preStop.exec.command[1]);
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(pause + exitBoundSeconds('src/main.ts'));
  });

  it('is scraped by Prometheus and scaled on CPU and on the subscription gauge it exports', () => {
    expect(pod.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/path': '/metrics', 'prometheus.io/port': String(container.ports[0].containerPort) });
    const hpa = manifest('HorizontalPodAutoscaler', 'nexus-gateway');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'nexus-gateway' });
    expect(hpa.spec.metrics.map((m: any) => m.resource?.name ?? m.pods?.metric.name)).toEqual(['cpu', 'nexus_active_subscriptions']);
    expect(readFileSync(path.join(ROOT, 'src', 'observability', 'metrics.ts'), 'utf8')).toContain(`name: 'nexus_active_subscriptions'`);
    expect(container.resources.requests.cpu).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
  });

  it('is selected by its Service and disruption budget', () => {
    const labels = pod.metadata.labels as Record<string, string>;
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    expect(selects(manifest('Service', 'nexus-gateway').spec.selector)).toBe(true);
    expect(selects(manifest('PodDisruptionBudget', 'nexus-gateway').spec.selector.matchLabels)).toBe(true);
    expect(selects(gateway.spec.selector.matchLabels)).toBe(true);
    expect(container.ports[0].name).toBe(manifest('Service', 'nexus-gateway').spec.ports[0].targetPort);
  });
});
