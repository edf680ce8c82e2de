// deploy/kserve (issue 13 item 3): the ClusterServingRuntime and the example InferenceServices, rendered
// as the deploy test renders them, checked against duet serve's flags and KServe's conventions (storage
// at /mnt/models, REST on 8080, gRPC on the port named h2c, metrics where the Prometheus annotations say),
// then the runtime's container run here as KServe would run it, with {{.Name}} filled in and each
// example's storage layout standing in for /mnt/models.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from '../packages/client/src/node.js';
import { GrpcClient } from '../packages/client/src/grpc.js';
import type { InferenceClient } from '../packages/client/src/types.js';
import { Cli, killAll } from './cli-process.js';
import { projectDockerfile } from './deploy/dockerfile.js';
import { freePort } from './deploy/haproxy.js';
import { effectiveFlags, kubectlVersion, render, type K8sObject } from './deploy/manifests.js';
import { MODELS } from './harness.js';

/** KServe's defaults: the storage initializer's mount and the predictor's HTTP port (constants.go). */
const KSERVE_MODEL_DIR = '/mnt/models';
const KSERVE_HTTP_PORT = 8080;

const image = projectDockerfile();
let runtime: K8sObject;
let services: K8sObject[];

before(async () => {
  await kubectlVersion();
  const objects = await render('kserve');
  const runtimes = objects.filter((o) => o.kind === 'ClusterServingRuntime');
  assert.equal(runtimes.length, 1);
  runtime = runtimes[0];
  services = objects.filter((o) => o.kind === 'InferenceService');
  assert.ok(services.length >= 2);
});
after(() => killAll());

/** The runtime's container with KServe's placeholders filled in for one InferenceService. */
function containerFor(isvc: K8sObject): K8sObject {
  const c = runtime.spec.containers.find((x: K8sObject) => x.name === 'kserve-container');
  assert.ok(c, 'KServe runs the container named kserve-container');
  return { ...c, args: (c.args ?? []).map((a: string) => a.replaceAll('{{.Name}}', isvc.metadata.name)), ports: isvc.spec.predictor.model.ports ?? [] };
}

test('the runtime: onnx and typescript formats, v2 and grpc-v2, and scrape annotations on Duet\'s metrics port', () => {
  const formats = runtime.spec.supportedModelFormats.map((f: K8sObject) => f.name);
  assert.deepEqual(formats.sort(), ['onnx', 'typescript']);
  assert.deepEqual([...runtime.spec.protocolVersions].sort(), ['grpc-v2', 'v2']);
  const flags = effectiveFlags(containerFor(services[0]), image.env);
  assert.equal(Number(runtime.spec.annotations['prometheus.kserve.io/port']), flags['metrics-port']);
  assert.equal(runtime.spec.annotations['prometheus.kserve.io/path'], '/metrics');
});

test('the runtime\'s args, as duet serve reads them: /mnt/models, the InferenceService\'s name, KServe\'s ports', () => {
  for (const isvc of services) {
    const c = containerFor(isvc);
    const flags = effectiveFlags(c, image.env);
    assert.deepEqual(flags['model-repository'], [KSERVE_MODEL_DIR]);
    assert.equal(flags['model-name'], isvc.metadata.name);
    assert.equal(flags['http-port'], KSERVE_HTTP_PORT);
    assert.equal(flags.host, '0.0.0.0');
    for (const p of c.ports) {
      // KServe routes HTTP/2 to the container port named h2c (or grpc), HTTP/1 to http1.
      if (/h2c|grpc/.test(p.name)) assert.equal(p.containerPort, flags['grpc-port'], `${isvc.metadata.name}: port ${p.name}`);
      else assert.equal(p.containerPort, flags['http-port'], `${isvc.metadata.name}: port ${p.name}`);
    }
    assert.equal(c.readinessProbe.httpGet.path, '/v2/health/ready');
    assert.equal(c.livenessProbe.httpGet.path, '/v2/health/live');
    for (const probe of [c.readinessProbe, c.livenessProbe]) assert.equal(probe.httpGet.port, flags['http-port']);
    assert.equal(String(c.securityContext.runAsUser), image.runtime.body.find((i) => i.op === 'USER')!.args.split(':')[0]);
  }
});

test('each InferenceService names the runtime, one of its formats and one of its protocols', () => {
  const formats = runtime.spec.supportedModelFormats.map((f: K8sObject) => f.name);
  for (const isvc of services) {
    const m = isvc.spec.predictor.model;
    assert.equal(m.runtime, runtime.metadata.name);
    assert.ok(formats.includes(m.modelFormat.name), `${isvc.metadata.name}: format ${m.modelFormat.name}`);
    assert.ok(runtime.spec.protocolVersions.includes(m.protocolVersion), `${isvc.metadata.name}: protocol ${m.protocolVersion}`);
    if (m.protocolVersion === 'grpc-v2') assert.ok(m.ports?.some((p: K8sObject) => p.name === 'h2c'), `${isvc.metadata.name}: grpc-v2 needs a port named h2c`);
    assert.match(m.storageUri, /^[a-z0-9]+:\/\//);
  }
});

/** What the storage initializer leaves at /mnt/models for each example: a bare file, or a model folder. */
async function storageFor(isvc: K8sObject, dir: string): Promise<{ model: string }> {
  const uri = isvc.spec.predictor.model.storageUri as string;
  if (uri.endsWith('.onnx')) {
    await copyFile(join(MODELS, 'digits', '1', 'model.onnx'), join(dir, uri.split('/').at(-1)!));
    return { model: 'digits' };
  }
  const example = uri.split('/').at(-1)!;
  await cp(join(MODELS, example), dir, { recursive: true });
  return { model: example };
}

for (const [i, layout] of [[0, 'a bare model file'], [1, 'a model folder']] as const) {
  test(`the runtime's container, run as KServe would, serves ${layout} under the InferenceService's name over REST and gRPC`, async () => {
    const isvc = services[i];
    const mnt = await mkdtemp(join(tmpdir(), 'duet-kserve-'));
    try {
      const { model } = await storageFor(isvc, mnt);
      const c = containerFor(isvc);
      const ports = { 'http-port': await freePort(), 'grpc-port': await freePort(), 'metrics-port': await freePort() };
      // The same args with the storage folder and free loopback ports in place of KServe's.
      const args = (c.args as string[]).map((a) => {
        const [flag] = a.slice(2).split('=');
        if (flag === 'model-repository') return `--model-repository=${mnt}`;
        return flag in ports ? `--${flag}=${ports[flag as keyof typeof ports]}` : a;
      });
      const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DUET_')));
      Object.assign(env, image.env, Object.fromEntries(c.env.map((e: K8sObject) => [e.name, e.value])), {
        DUET_HOST: '127.0.0.1', DUET_MODEL_REPOSITORY: mnt,
      });
      const cli = new Cli(['serve', ...args], env);
      const base = `http://127.0.0.1:${ports['http-port']}`;
      const deadline = Date.now() + 60_000;
      while ((await fetch(`${base}${c.readinessProbe.httpGet.path}`).then((r) => r.status, () => 0)) !== 200) {
        if (cli.child.exitCode !== null || Date.now() > deadline) assert.fail(`never ready\n${cli.output}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const name = isvc.metadata.name as string;
      const clients: InferenceClient[] = [new HttpClient(base), new GrpcClient(`127.0.0.1:${ports['grpc-port']}`)];
      try {
        for (const client of clients) {
          assert.deepEqual((await client.getModelRepositoryIndex()).map((e) => e.name), [name]);
          if (model === 'digits') {
            const r = await client.infer(name, [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 64], data: new Float32Array(64) }]);
            assert.deepEqual(r.output('OUTPUT0').shape, [1, 10]);
          } else {
            const r = await client.infer(name, [{ name: 'text_input', datatype: 'BYTES', shape: [1], data: ['through KServe'] }]);
            assert.deepEqual(r.output('text_output').strings(), ['through KServe']);
          }
        }
      } finally {
        for (const client of clients) await client.close();
      }
      assert.match(cli.stdout, /served as '[^']+' \(--model-name\)/);
      cli.child.kill('SIGTERM');
      assert.deepEqual(await cli.exit(60_000), { code: 0, signal: null }, cli.output);
    } finally {
      await rm(mnt, { recursive: true, force: true });
    }
  });
}
