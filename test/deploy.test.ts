// deploy/ offline (issue 13 item 4, `npm run test:deploy`, also in `npm test`): every kustomization rendered
// by `kubectl kustomize`, every object validated against the Kubernetes schemas (kubernetes-models) or KServe's
// CRDs (../shared/kserve-crds/, ajv), and the ports, probe paths, args and shutdown timings checked against what
// duet serve really does with them: its flag table resolves each container's args, env and --config file.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { HttpClient } from '../packages/client/src/node.js';
import { FORCED_EXIT_MARGIN_MS } from '../src/cli/serve.js';
import { Metrics } from '../src/metrics/prometheus.js';
import { Cli, killAll } from './cli-process.js';
import { projectDockerfile } from './deploy/dockerfile.js';
import { freePort } from './deploy/haproxy.js';
import {
  bytesOf, containerEnv, crdValidators, effectiveFlags, kubectlVersion, kustomizations, mountedFiles, named, preStopSeconds,
  render, validateBuiltIn, validateCustom, type K8sObject,
} from './deploy/manifests.js';
import { ROOT } from './harness.js';

const image = projectDockerfile();
const USER = image.runtime.body.find((i) => i.op === 'USER')!.args.split(':')[0];
const OVERLAYS = ['base', 'overlays/dev', 'overlays/prod'];
const rendered = new Map<string, K8sObject[]>();
const of = (dir: string, kind: string) => rendered.get(dir)!.filter((o) => o.kind === kind);
const only = (dir: string, kind: string) => {
  const found = of(dir, kind);
  assert.equal(found.length, 1, `${dir}: expected one ${kind}, got ${found.length}`);
  return found[0];
};

/** The Deployment's pod spec, its Duet container, and what duet serve makes of the container's settings. */
function duetPod(dir: string) {
  const deployment = only(dir, 'Deployment');
  const pod = deployment.spec.template.spec;
  const c = pod.containers.find((x: K8sObject) => x.name === 'duet');
  assert.ok(c, `${dir}: the Deployment has no container named duet`);
  const files = mountedFiles(pod, c, rendered.get(dir)!);
  return { deployment, pod, c, files, flags: effectiveFlags(c, image.env, files) };
}

const portNamed = (c: K8sObject, name: string) => c.ports.find((p: K8sObject) => p.name === name)?.containerPort as number | undefined;

before(async () => {
  await kubectlVersion();
  for (const dir of await kustomizations()) rendered.set(dir, await render(dir));
});
after(() => killAll());

test('every kustomization under deploy/ renders: the base, the dev and prod overlays, KServe', () => {
  assert.deepEqual([...rendered.keys()], ['base', 'kserve', 'overlays/dev', 'overlays/prod']);
  for (const [dir, objects] of rendered) assert.ok(objects.length > 0, `${dir} renders nothing`);
});

test('every object fits its schema: Kubernetes kinds by kubernetes-models, KServe kinds by KServe\'s own CRDs', async () => {
  const crds = crdValidators();
  let custom = 0;
  for (const objects of rendered.values()) {
    for (const o of objects) {
      if (String(o.apiVersion).startsWith('serving.kserve.io/')) {
        validateCustom(crds, o);
        custom++;
      } else {
        await validateBuiltIn(o);
      }
    }
  }
  assert.equal(custom, of('kserve', 'ClusterServingRuntime').length + of('kserve', 'InferenceService').length);
  assert.ok(custom >= 2);
});

for (const dir of OVERLAYS) {
  describe(dir, () => {
    test('the Services, the PodDisruptionBudget and the autoscaler all find the Deployment\'s pods', () => {
      const { deployment } = duetPod(dir);
      const labels = deployment.spec.template.metadata.labels as Record<string, string>;
      const matches = (sel: Record<string, string>) => Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => labels[k] === v);
      assert.ok(matches(deployment.spec.selector.matchLabels));
      for (const s of of(dir, 'Service')) assert.ok(matches(s.spec.selector ?? {}), `${named(s)} selects no Duet pod`);
      assert.ok(matches(only(dir, 'PodDisruptionBudget').spec.selector.matchLabels));
      const hpa = only(dir, 'HorizontalPodAutoscaler');
      assert.deepEqual([hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name], ['Deployment', deployment.metadata.name]);
      for (const o of rendered.get(dir)!) if (dir !== 'base') assert.ok(o.kind === 'Namespace' || o.metadata.namespace, `${named(o)} has no namespace`);
    });

    test('container ports are the ports duet serve listens on; Services name them and say h2c for gRPC', () => {
      const { c, flags } = duetPod(dir);
      assert.equal(portNamed(c, 'http'), flags['http-port']);
      assert.equal(portNamed(c, 'grpc'), flags['grpc-port']);
      assert.equal(portNamed(c, 'metrics'), flags['metrics-port']);
      assert.equal(flags.host, '0.0.0.0', 'every interface: the kubelet probes and the Service reach the pod IP');
      const annotations = only(dir, 'Deployment').spec.template.metadata.annotations;
      assert.equal(Number(annotations['prometheus.io/port']), flags['metrics-port']);
      assert.equal(annotations['prometheus.io/path'], '/metrics');
      const appProtocol: Record<string, string> = { http: 'http', grpc: 'kubernetes.io/h2c', metrics: 'http' };
      for (const s of of(dir, 'Service')) {
        for (const p of s.spec.ports) {
          assert.ok(portNamed(c, p.targetPort), `${named(s)} port ${p.name} targets ${p.targetPort}, which the container does not name`);
          assert.equal(p.appProtocol, appProtocol[p.targetPort], `${named(s)} port ${p.name}`);
        }
      }
      const headless = of(dir, 'Service').filter((s) => s.spec.clusterIP === 'None');
      assert.ok(headless.some((s) => s.spec.ports.some((p: K8sObject) => p.targetPort === 'grpc')), 'a headless Service for client-side gRPC balancing');
    });

    test('probes: startup and liveness ask /v2/health/live, readiness /v2/health/ready, on the REST port', () => {
      const { c } = duetPod(dir);
      for (const [probe, path] of [['startupProbe', '/v2/health/live'], ['livenessProbe', '/v2/health/live'], ['readinessProbe', '/v2/health/ready']]) {
        assert.equal(c[probe]?.httpGet?.path, path, probe);
        assert.equal(c[probe].httpGet.port, 'http', probe);
      }
      // Models load before the listeners open: the startup probe must outlast a slow load.
      assert.ok(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold >= 300, 'the startup probe allows at least 5 minutes');
    });

    test('termination: the grace period covers the preStop sleep, duet\'s drain and grace, and its last-resort margin', () => {
      const { pod, c, flags } = duetPod(dir);
      const sleep = preStopSeconds(c);
      assert.ok(sleep > 0, 'a preStop sleep lets endpoint removal spread before SIGTERM');
      const needed = sleep + (flags['shutdown-drain-secs'] + flags['shutdown-grace-secs'] + FORCED_EXIT_MARGIN_MS) / 1000;
      assert.ok(pod.terminationGracePeriodSeconds >= needed, `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} < ${needed}`);
      assert.ok(flags['shutdown-drain-secs'] > 0);
    });

    test('security: non-root as the image\'s user, no privilege escalation, read-only root with a writable /tmp', () => {
      const { pod, c, flags } = duetPod(dir);
      assert.equal(pod.securityContext.runAsNonRoot, true);
      assert.equal(String(pod.securityContext.runAsUser), USER);
      assert.equal(c.securityContext.allowPrivilegeEscalation, false);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
      assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
      const mount = (path: string) => c.volumeMounts.find((m: K8sObject) => m.mountPath === path);
      assert.ok(pod.volumes.find((v: K8sObject) => v.name === mount('/tmp')?.name)?.emptyDir, '/tmp is an emptyDir');
      const repos = flags['model-repository'];
      assert.deepEqual(repos, ['/mnt/models']);
      assert.equal(mount(repos[0])?.readOnly, true, 'the model repository is mounted read-only');
      for (const v of pod.volumes) {
        const sources = Object.keys(v).filter((k) => k !== 'name');
        assert.equal(sources.length, 1, `volume ${v.name} has ${sources.length} sources (${sources.join(', ')})`);
      }
    });

    test('resources: requests and limits set; the in-flight budget fits the memory limit; replicas within the autoscaler\'s bounds', () => {
      const { deployment, c, flags } = duetPod(dir);
      for (const k of ['requests', 'limits']) for (const r of ['cpu', 'memory']) assert.ok(c.resources[k]?.[r], `${k}.${r}`);
      assert.ok((flags['max-inflight-bytes'] ?? Infinity) <= bytesOf(c.resources.limits.memory) / 2,
        `--max-inflight-bytes ${flags['max-inflight-bytes']} against a ${c.resources.limits.memory} limit (Node sees the node's memory, not the pod's)`);
      const hpa = only(dir, 'HorizontalPodAutoscaler');
      assert.ok(hpa.spec.minReplicas <= hpa.spec.maxReplicas);
      assert.equal(deployment.spec.replicas, hpa.spec.minReplicas);
      assert.ok(hpa.spec.metrics.some((m: K8sObject) => m.type === 'Resource' && m.resource.name === 'cpu'), 'the autoscaler scales on CPU (which needs a CPU request)');
    });
  });
}

test('overlays: dev one replica on its own namespace; prod 3 or more, spread, with the image pinned to this release', async () => {
  const version = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).version as string;
  const prod = duetPod('overlays/prod');
  assert.equal(prod.c.image.split(':').at(-1), version, 'prod runs the image of this package version');
  assert.ok(prod.deployment.spec.replicas >= 3);
  assert.ok(prod.pod.topologySpreadConstraints?.length);
  const dev = duetPod('overlays/dev');
  assert.equal(dev.deployment.spec.replicas, 1);
  assert.notEqual(only('overlays/dev', 'Namespace').metadata.name, only('overlays/prod', 'Namespace').metadata.name);
});

test('dev overlay: its ConfigMap model repository, as the pod mounts it, serves with the pod\'s settings', async () => {
  const { c, files } = duetPod('overlays/dev');
  const root = await mkdtemp(join(tmpdir(), 'duet-pod-'));
  try {
    for (const [path, text] of files) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), text);
    }
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DUET_')));
    const podEnv = { ...image.env, ...containerEnv(c) };
    Object.assign(env, podEnv, {
      DUET_CONFIG: join(root, podEnv.DUET_CONFIG),
      DUET_MODEL_REPOSITORY: join(root, podEnv.DUET_MODEL_REPOSITORY),
      DUET_HOST: '127.0.0.1',
      DUET_HTTP_PORT: String(await freePort()),
      DUET_GRPC_PORT: String(await freePort()),
      DUET_METRICS_PORT: String(await freePort()),
    });
    const cli = new Cli(['serve', ...(c.args ?? [])], env);
    const base = `http://127.0.0.1:${env.DUET_HTTP_PORT}`;
    const deadline = Date.now() + 60_000;
    while ((await fetch(`${base}${c.startupProbe.httpGet.path}`).then((r) => r.status, () => 0)) !== 200) {
      if (cli.child.exitCode !== null || Date.now() > deadline) assert.fail(`the startup probe never passed\n${cli.output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const probe of ['livenessProbe', 'readinessProbe']) assert.equal((await fetch(`${base}${c[probe].httpGet.path}`)).status, 200, probe);
    const client = new HttpClient(base);
    try {
      const r = await client.infer('echo', [{ name: 'text_input', datatype: 'BYTES', shape: [1], data: ['hello from a ConfigMap'] }]);
      assert.deepEqual(r.output('text_output').strings(), ['hello from a ConfigMap']);
    } finally {
      await client.close();
    }
    assert.match(cli.stdout + cli.stderr, /"level":"verbose"/, 'the dev overlay logs verbose JSON (its env over the config file)');
    cli.child.kill('SIGTERM');
    assert.deepEqual(await cli.exit(60_000), { code: 0, signal: null }, cli.output);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('the README\'s queue-time autoscaling rule names metrics Duet exports, as counters', async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const rule = readme.slice(readme.indexOf('# prometheus-adapter rules'));
  const names = [...new Set(rule.slice(0, rule.indexOf('```')).match(/\bnv_inference_\w+/g))];
  assert.deepEqual(names.sort(), ['nv_inference_queue_duration_us', 'nv_inference_request_success']);
  const metrics = new Metrics(() => []);
  for (const n of names) assert.equal((await metrics.registry.getSingleMetric(n)?.get())?.type, 'counter', n);
});
