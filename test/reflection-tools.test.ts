// Server reflection as independent tools use it, with no copy of Duet's .proto files:
//   - buf curl (npm @bufbuild/buf) lists every service and method and calls methods through reflection,
//     over both grpc.reflection.v1 and v1alpha;
//   - Python's protobuf (Debian's python3-protobuf + python3-grpcio) builds a DescriptorPool from the served
//     files and every message class from it (test/interop/reflection.py; one node test per check).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startTestServer } from './harness.js';
import type { RunningServer } from '../src/server.js';
import { checkTests, python, pythonMissing } from './python.js';
import { GENERATOR_SERVICE, HEALTH_SERVICE, INFERENCE_SERVICE, PREDICTOR_SERVICE } from '../src/protocols/grpc/definitions.js';
import { REFLECTION_V1_SERVICE, REFLECTION_V1ALPHA_SERVICE } from '../src/protocols/grpc/reflection/service.js';

const BUF = join(ROOT, 'node_modules', '.bin', 'buf');
const TIMEOUT_MS = 60_000;

let running: RunningServer | undefined;
before(async () => {
  running = await startTestServer();
  base = `http://127.0.0.1:${running.grpc!.port}`;
});
after(() => running?.stop());
const server = () => running!;
let base = '';

interface BufRun { code: number; stdout: string; stderr: string }

function buf(args: string[], data?: object | string): Promise<BufRun> {
  assert.ok(existsSync(BUF), `${BUF} is missing: npm ci installs @bufbuild/buf (a devDependency)`);
  const body = data === undefined ? [] : ['-d', typeof data === 'string' ? data : JSON.stringify(data)];
  const argv = ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '--timeout', '30s', ...body, ...args];
  return new Promise((resolve) => {
    execFile(BUF, argv, { timeout: TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** A call through reflection; fails with buf's own words when buf cannot make it. */
async function call(method: string, version: 'v1' | 'v1alpha', data?: object | string): Promise<Record<string, unknown>> {
  const r = await buf(['--reflect-protocol', `grpc-${version}`, `${base}/${method}`], data);
  assert.equal(r.code, 0, `buf curl ${method} (${version}) exited ${r.code}: ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const ALL_SERVICES = [INFERENCE_SERVICE, PREDICTOR_SERVICE, GENERATOR_SERVICE, HEALTH_SERVICE, REFLECTION_V1_SERVICE, REFLECTION_V1ALPHA_SERVICE];
const lines = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean).sort();

describe('buf curl through reflection', () => {
  for (const version of ['v1', 'v1alpha'] as const) {
    const reflect = ['--reflect-protocol', `grpc-${version}`];

    test(`${version}: --list-services and --list-methods name every service and method Duet serves`, async () => {
      const services = await buf([...reflect, '--list-services', base]);
      assert.equal(services.code, 0, services.stderr);
      const wantServices = ALL_SERVICES.map((s) => Object.values(s)[0].path.split('/')[1]).sort();
      assert.deepEqual(lines(services.stdout), wantServices);
      const methods = await buf([...reflect, '--list-methods', base]);
      assert.equal(methods.code, 0, methods.stderr);
      const wantMethods = ALL_SERVICES.flatMap((s) => Object.values(s).map((d) => d.path.slice(1))).sort();
      assert.deepEqual(lines(methods.stdout), wantMethods);
    });

    test(`${version}: ServerLive, ModelMetadata and health Check`, async () => {
      assert.deepEqual(await call('inference.GRPCInferenceService/ServerLive', version), { live: true });
      const meta = await call('inference.GRPCInferenceService/ModelMetadata', version, { name: 'my_model' });
      assert.equal(meta.name, 'my_model');
      assert.deepEqual(meta.inputs, [{ name: 'INPUT0', datatype: 'FP32', shape: ['-1', '128'] }]);
      assert.deepEqual(await call('grpc.health.v1.Health/Check', version, { service: '' }), { status: 'SERVING' });
    });

    test(`${version}: ModelInfer on my_model (typed contents and a parameters map) returns the sum`, async () => {
      const values = Array.from({ length: 128 }, (_, i) => (i % 7) * 0.5 - 1);
      const want = values.reduce((a, b) => a + b, 0);
      const res = await call('inference.GRPCInferenceService/ModelInfer', version, {
        model_name: 'my_model', id: `buf-${version}`,
        parameters: { note: { string_param: 'sent by buf curl' } },
        inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], contents: { fp32_contents: values } }],
      });
      assert.equal(res.id, `buf-${version}`);
      assert.deepEqual(res.outputs, [{ name: 'OUTPUT0', datatype: 'FP32', shape: ['1', '1'] }]);
      const raw = Buffer.from((res.rawOutputContents as string[])[0], 'base64');
      assert.equal(raw.length, 4);
      assert.ok(Math.abs(raw.readFloatLE(0) - want) < 1e-3, `sum ${raw.readFloatLE(0)}, expected ${want}`);
    });

    test(`${version}: the package-less Predictor/Predict`, async () => {
      const features = Array.from({ length: 128 }, (_, i) => i / 64);
      const want = features.reduce((a, b) => a + b, 0);
      const res = await call('Predictor/Predict', version, { features });
      assert.ok(Math.abs(Number(res.score) - want) < 1e-3, `score ${res.score}, expected ${want}`);
    });
  }

  test('bidirectional ModelStreamInfer: one response per request, in order', async () => {
    const req = (id: string, v: number) => JSON.stringify({
      model_name: 'my_model', id, inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], contents: { fp32_contents: Array(128).fill(v) } }],
    });
    const r = await buf([`${base}/inference.GRPCInferenceService/ModelStreamInfer`], `${req('a', 1)}\n${req('b', 2)}`);
    assert.equal(r.code, 0, r.stderr);
    // buf prints each response as a pretty JSON document, one after another.
    const ids = [...r.stdout.matchAll(/"id": "([ab])"/g)].map((m) => m[1]);
    assert.deepEqual(ids, ['a', 'b']);
  });

  test('the request type is known field by field: a field ModelInferRequest lacks is refused before sending', async () => {
    const r = await buf([`${base}/inference.GRPCInferenceService/ModelInfer`], { model_name: 'my_model', no_such_field: 1 });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no_such_field/);
  });
});

// ------------------------------------------------------------------------------------------ Python

const SCRIPT = join(ROOT, 'test', 'interop', 'reflection.py');
const INSTALL_HINT = 'install the Debian packages: apt-get install -y python3-grpcio python3-protobuf protobuf-compiler (.ci/run does this in CI)';
const EXPECTED = [
  'stubs', 'v1_list_services', 'v1alpha_list_services', 'fetch_files_by_service', 'descriptor_pool_services',
  'build_every_message_class', 'symbols_and_not_found', 'model_infer_with_reflected_classes',
];

checkTests('python reflection', 'reflection.py', EXPECTED, async () => {
  const missing = await pythonMissing('grpc, google.protobuf', INSTALL_HINT);
  if (missing) throw new Error(missing);
  return python([SCRIPT, `127.0.0.1:${server().grpc!.port}`, '--proto-dir', join(ROOT, 'proto')], TIMEOUT_MS);
}, TIMEOUT_MS);
