// deploy/ as Kubernetes would see it: every kustomization rendered with `kubectl kustomize`, each object
// checked against its schema (kubernetes-models for built-in kinds, KServe's CRDs for KServe's), and what
// a Duet container would run resolved by duet serve's own flag code.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, posix, relative, resolve as resolvePath } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Ajv, type ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import { parse, parseAllDocuments } from 'yaml';
import { parseArgsOptions, resolve, type ConfigFile } from '../../src/cli/flags.js';
import { SERVE_FLAGS, type ServeValues } from '../../src/cli/serve-flags.js';
import { ROOT } from '../harness.js';

export const DEPLOY = join(ROOT, 'deploy');

// KServe's published CRDs are never copied into the checkout. They are looked for in shared/ beside it or beside
// any folder above it (a CI clone may sit deeper), then in the workplace's /work/shared; KSERVE_CRDS_DIR, when set,
// is the only place looked at.
const CRD_PLACES = process.env.KSERVE_CRDS_DIR ? [process.env.KSERVE_CRDS_DIR] : crdPlaces();
function crdPlaces(): string[] {
  const places: string[] = [];
  for (let dir = resolvePath(ROOT, '..'); ; dir = resolvePath(dir, '..')) {
    places.push(join(dir, 'shared', 'kserve-crds'));
    if (dir === resolvePath(dir, '..')) break;
  }
  places.push('/work/shared/kserve-crds');
  return places;
}
export const KSERVE_CRDS = CRD_PLACES.find((p) => existsSync(p)) ?? CRD_PLACES[0];

// Loosely typed on purpose: these are rendered manifests, checked field by field in the tests.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type K8sObject = Record<string, any>;

/** Every folder under deploy/ that holds a kustomization, relative to deploy/ (posix separators). */
export async function kustomizations(dir = DEPLOY): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...(await kustomizations(join(dir, e.name))));
    else if (['kustomization.yaml', 'kustomization.yml', 'Kustomization'].includes(e.name)) out.push(relative(DEPLOY, dir).split('\\').join(posix.sep) || '.');
  }
  return out.sort();
}

const exec = promisify(execFile);

/** kubectl's client version line; fails saying how to get kubectl when there is none. */
export async function kubectlVersion(): Promise<string> {
  try {
    return (await exec('kubectl', ['version', '--client'], { timeout: 30_000 })).stdout;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') {
      assert.fail('kubectl is not on PATH: test/deploy.test.ts renders deploy/ with `kubectl kustomize` (kustomize v5). '
        + '.ci/run installs it (apt-get install kubectl); elsewhere see https://kubernetes.io/docs/tasks/tools/');
    }
    throw e;
  }
}

/** `kubectl kustomize deploy/<dir>`, parsed. */
export async function render(dir: string): Promise<K8sObject[]> {
  const { stdout } = await exec('kubectl', ['kustomize', join(DEPLOY, dir)], { timeout: 60_000, maxBuffer: 16 * 2 ** 20 });
  const docs = parseAllDocuments(stdout);
  for (const d of docs) assert.deepEqual(d.errors, [], `kubectl kustomize ${dir}: ${d.errors.join('; ')}`);
  return docs.map((d) => d.toJS() as K8sObject).filter((o) => o !== null);
}

export const named = (o: K8sObject) => `${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name}`;

/** Built-in kinds: the kubernetes-models class of the object's apiVersion and kind, validated. */
export async function validateBuiltIn(o: K8sObject): Promise<void> {
  const mod = await import(`kubernetes-models/${o.apiVersion}/${o.kind}`).catch(() => undefined);
  assert.ok(mod?.[o.kind], `${named(o)}: kubernetes-models has no ${o.apiVersion} ${o.kind}`);
  const Model = mod[o.kind] as new (data: K8sObject) => { validate(): void };
  try {
    new Model(o).validate();
  } catch (e) {
    assert.fail(`${named(o)} does not fit the Kubernetes ${o.apiVersion} ${o.kind} schema: ${(e as Error).message}`);
  }
}

/** One validator per group/version/kind of the CRDs in KSERVE_CRDS; fails clearly when the folder is absent. */
export function crdValidators(): Map<string, ValidateFunction> {
  assert.ok(existsSync(KSERVE_CRDS), `KServe's CRD schemas are not at ${CRD_PLACES.join(', ')}: the deploy test validates deploy/kserve/ against them. `
    + 'They live beside the checkout in ../shared/kserve-crds/ (from kserve/kserve config/crd/full/); set KSERVE_CRDS_DIR to another copy.');
  // Kubernetes' structural-schema extensions are annotations, not constraints ajv knows.
  const ajv = new Ajv({ strict: false, allErrors: true });
  (ajvFormats as unknown as (a: Ajv) => void)(ajv);
  const out = new Map<string, ValidateFunction>();
  for (const f of ['serving.kserve.io_clusterservingruntimes.yaml', 'serving.kserve.io_servingruntimes.yaml', 'serving.kserve.io_inferenceservices.yaml']) {
    const path = join(KSERVE_CRDS, f);
    assert.ok(existsSync(path), `${path} is missing from the KServe CRD folder`);
    const crd = parse(readFileSync(path, 'utf8')) as K8sObject;
    for (const v of crd.spec.versions) out.set(`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, ajv.compile(v.schema.openAPIV3Schema));
  }
  return out;
}

/** A KServe object against its CRD's schema for its apiVersion. */
export function validateCustom(validators: Map<string, ValidateFunction>, o: K8sObject): void {
  const v = validators.get(`${o.apiVersion}/${o.kind}`);
  assert.ok(v, `${named(o)}: no CRD schema for ${o.apiVersion} ${o.kind} in ${KSERVE_CRDS}`);
  if (!v(o)) assert.fail(`${named(o)} does not fit KServe's CRD schema: ${v.errors!.map((e) => `${e.instancePath} ${e.message}`).join('; ')}`);
}

/** The container's env as plain values (valueFrom is not used in deploy/, and would hide a value from the checks). */
export function containerEnv(c: K8sObject): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    assert.ok(typeof e.value === 'string', `container ${c.name}: env ${e.name} has no literal value`);
    env[e.name] = e.value;
  }
  return env;
}

/**
 * What `duet serve` would run with in this container: the image's DUET_* variables, the container's env and
 * args, and the --config file as the pod mounts it (from `files`, mount path -> content), resolved by
 * duet serve's own flag code, so an unknown flag, variable or key fails here as it would in the pod.
 */
export function effectiveFlags(c: K8sObject, imageEnv: Record<string, string>, files: Map<string, string> = new Map()): ServeValues {
  const env = { ...imageEnv, ...containerEnv(c) };
  const { values } = parseArgs({ args: c.args ?? [], options: { ...parseArgsOptions(SERVE_FLAGS), config: { type: 'string' } }, strict: true });
  const configPath = values.config ?? env.DUET_CONFIG;
  let file: ConfigFile | undefined;
  if (configPath !== undefined) {
    const text = files.get(configPath);
    assert.ok(text !== undefined, `container ${c.name}: its --config file ${configPath} is not mounted from a ConfigMap`);
    file = { path: configPath, data: parse(text) };
  }
  return resolve(SERVE_FLAGS, values, env, file, ['DUET_CONFIG']).values;
}

/** Files a pod sees from its ConfigMap volumes: mount path (+ item path or key) -> content. */
export function mountedFiles(pod: K8sObject, c: K8sObject, objects: K8sObject[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of c.volumeMounts ?? []) {
    const vol = (pod.volumes ?? []).find((v: K8sObject) => v.name === m.name);
    if (!vol?.configMap) continue;
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === vol.configMap.name);
    assert.ok(cm, `volume ${vol.name} names ConfigMap ${vol.configMap.name}, which the kustomization does not render`);
    const data: Record<string, string> = { ...cm.data, ...cm.binaryData };
    const items: { key: string; path: string }[] = vol.configMap.items ?? Object.keys(data).map((k) => ({ key: k, path: k }));
    for (const { key, path } of items) {
      assert.ok(key in data, `volume ${vol.name}: ConfigMap ${cm.metadata.name} has no key ${key}`);
      out.set(posix.join(m.mountPath, path), data[key]);
    }
  }
  return out;
}

/** Seconds of a preStop sleep (the native sleep action); 0 when there is none. */
export const preStopSeconds = (c: K8sObject): number => Number(c.lifecycle?.preStop?.sleep?.seconds ?? 0);

/** Bytes of a Kubernetes memory quantity (Ki, Mi, Gi or plain). */
export function bytesOf(q: string | number): number {
  const m = String(q).match(/^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G)?$/);
  assert.ok(m, `memory quantity ${q} not understood`);
  const unit: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9 };
  return Number(m[1]) * (m[2] ? unit[m[2]] : 1);
}
