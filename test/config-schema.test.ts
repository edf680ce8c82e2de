// Configs read by their schema, over every protocol: /config and gRPC ModelConfig give Triton's JSON form for a
// config with model_warmup, optimization, parameters and a one-element input list; warmup runs before the model
// is ready (and a failing or escaping warmup fails the load); several repositories serve as one.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InferenceClient } from '../packages/client/src/types.js';
import { configJson } from '../src/repository/config-json.js';
import type { RunningServer } from '../src/server.js';
import { EXPLICIT, MODELS, PROTOCOLS, startTestServer, type Protocol, type TestServerOptions } from './harness.js';

/** OUTPUT0 = [executions so far, requests so far, first and last value of the previous execution's first input]. */
const COUNTING_MODEL_TS = `
let calls = 0;
let requests = 0;
let previous = [0, 0];
export default class Counting {
  execute(reqs: any[]): any[] {
    const x = reqs[0].inputs.INPUT0.typed();
    if (FAIL_ON_ZERO && x[0] === 0) throw new Error('zeros are not welcome');
    calls++;
    requests += reqs.length;
    const out = new Float32Array([calls, requests, previous[0], previous[1]]);
    previous = [x[0], x[x.length - 1]];
    return reqs.map(() => ({ outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [1, 4], data: out }] }));
  }
}
`;
const countingModel = (failOnZero: boolean) => COUNTING_MODEL_TS.replace('FAIL_ON_ZERO', String(failOnZero));

const warmConfig = (name: string, file = 'input0.bin', extra = '') => `
name: "${name}"
backend: "typescript"
max_batch_size: 4
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] } ]
instance_group [ { kind: KIND_CPU count: 1 } ]
parameters { key: "mode" value { string_value: "fast" } }
optimization { execution_accelerators { gpu_execution_accelerator [ { name: "tensorrt" } ] } }
model_warmup [
  { name: "zeros" batch_size: 2 count: 3 inputs { key: "INPUT0" value { data_type: TYPE_FP32 dims: [ 4 ] zero_data: true } } },
  { name: "from_file" batch_size: 1 inputs { key: "INPUT0" value { data_type: TYPE_FP32 dims: [ 4 ] input_data_file: "${file}" } } }
]
${extra}`;

/** Triton's JSON form of warmConfig('warm') after Duet's defaults, key order included. */
const WARM_JSON = {
  name: 'warm', platform: '', backend: 'typescript', runtime: '',
  version_policy: { latest: { num_versions: 1 } },
  max_batch_size: 4,
  input: [{
    name: 'INPUT0', data_type: 'TYPE_FP32', format: 'FORMAT_NONE', dims: [4],
    is_shape_tensor: false, allow_ragged_batch: false, optional: false, is_non_linear_format_io: false,
  }],
  output: [{ name: 'OUTPUT0', data_type: 'TYPE_FP32', dims: [4], label_filename: '', is_shape_tensor: false, is_non_linear_format_io: false }],
  batch_input: [], batch_output: [],
  optimization: {
    priority: 'PRIORITY_DEFAULT',
    execution_accelerators: { gpu_execution_accelerator: [{ name: 'tensorrt', parameters: {} }], cpu_execution_accelerator: [] },
    input_pinned_memory: { enable: true }, output_pinned_memory: { enable: true },
    gather_kernel_buffer_threshold: 0, eager_batching: false,
  },
  instance_group: [{ name: 'warm_0', kind: 'KIND_CPU', count: 1, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: '' }],
  default_model_filename: '', cc_model_filenames: {}, metric_tags: {},
  parameters: { mode: { string_value: 'fast' } },
  model_warmup: [
    { name: 'zeros', batch_size: 2, inputs: { INPUT0: { data_type: 'TYPE_FP32', dims: [4], zero_data: true } }, count: 3 },
    { name: 'from_file', batch_size: 1, inputs: { INPUT0: { data_type: 'TYPE_FP32', dims: [4], input_data_file: 'input0.bin' } }, count: 0 },
  ],
};

async function writeModel(repo: string, name: string, config: string, failOnZero = false): Promise<string> {
  const dir = join(repo, name);
  await mkdir(join(dir, '1'), { recursive: true });
  await mkdir(join(dir, 'warmup'));
  await writeFile(join(dir, 'config.pbtxt'), config);
  await writeFile(join(dir, '1', 'model.ts'), countingModel(failOnZero));
  await writeFile(join(dir, 'warmup', 'input0.bin'), new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer));
  return dir;
}

async function loadFails(c: InferenceClient, name: string, pattern: RegExp): Promise<void> {
  await assert.rejects(c.loadModel(name), (e: Error) => {
    assert.match(e.message, pattern);
    return true;
  });
  assert.equal(await c.isModelReady(name), false);
}

/**
 * Inside a describe block: a scratch folder filled by `fill` (which returns the repositories to serve), a server over
 * it and a client of `proto`, started before the block's tests and stopped (and the folder removed) after them.
 */
function serveFrom(proto: Protocol, fill: (root: string) => Promise<string | string[]>, opts: TestServerOptions) {
  const s = {} as { root: string; server: RunningServer; c: InferenceClient };
  before(async () => {
    s.root = await mkdtemp(join(tmpdir(), 'duet-schema-'));
    s.server = await startTestServer(await fill(s.root), opts);
    s.c = proto.client(s.server);
  });
  after(async () => {
    await s.c?.close();
    await s.server?.stop();
    await rm(s.root, { recursive: true, force: true });
  });
  return s;
}

for (const proto of PROTOCOLS) {
  describe(`${proto.name}: configs read by their schema`, { timeout: 120_000 }, () => {
    const s = serveFrom(proto, async (root) => {
      const repo = join(root, 'repo');
      await writeModel(repo, 'warm', warmConfig('warm'));
      await writeModel(repo, 'warm_fail', warmConfig('warm_fail'), true);
      await writeModel(repo, 'warm_escape', warmConfig('warm_escape', '../../outside.bin'));
      const linked = await writeModel(repo, 'warm_link', warmConfig('warm_link', 'link.bin'));
      await writeFile(join(root, 'outside.bin'), new Uint8Array(16));
      await symlink(join(root, 'outside.bin'), join(linked, 'warmup', 'link.bin'));
      await writeModel(repo, 'typo', warmConfig('typo').replace('{ kind: KIND_CPU count: 1 }', '{\n  kindd: KIND_CPU\n}'));
      return repo;
    }, { modelControlMode: 'explicit', loadModels: ['warm'], log: (line) => logged.push(line) });
    const logged: string[] = [];

    test("/config is Triton's JSON form of the file: one-element lists, maps, warmup, optimization", async () => {
      const cfg = await s.c.getModelConfig('warm');
      // REST returns the JSON form itself; the gRPC message, printed the same way, must say the same.
      const seen = proto.name === 'http' ? cfg : configJson(cfg);
      assert.equal(JSON.stringify(seen), JSON.stringify(WARM_JSON));
    });

    test('warmup ran on the instance before the model was ready: every sample, batch_size and count honoured', async () => {
      assert.equal(await s.c.isModelReady('warm'), true);
      const r = await s.c.infer('warm', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 4], data: [9, 9, 9, 9] }]);
      // 3 runs of 2 zero requests, then 1 run of the file's [1, 2, 3, 4]; this is execution 5, request 8.
      assert.deepEqual([...r.output('OUTPUT0').typed()], [5, 8, 1, 4]);
    });

    test('optimization settings Duet does not apply are logged once, by name', () => {
      const notes = logged.filter((l) => l.includes('optimization settings'));
      assert.deepEqual(notes, [
        "model 'warm': optimization settings Duet does not apply (accepted, ignored): optimization.execution_accelerators.gpu_execution_accelerator 'tensorrt'",
      ]);
    });

    test('a failing warmup fails the load, naming the sample', async () => {
      await loadFails(s.c, 'warm_fail', /model_warmup sample 'zeros' failed on instance warm_fail_0_0: .*zeros are not welcome/);
    });

    test("a warmup file outside the model's folder is refused", async () => {
      await loadFails(s.c, 'warm_escape', /input_data_file '\.\.\/\.\.\/outside\.bin' contains '\.\.'/);
      await loadFails(s.c, 'warm_link', /input_data_file 'warmup\/link\.bin' is a symlink that leads outside the model repository/);
    });

    test('an unknown field fails the load with its line and path', async () => {
      await loadFails(s.c, 'typo', /typo\/config\.pbtxt:8: unknown field 'instance_group\.kindd' in ModelInstanceGroup \(did you mean 'kind'\?\)/);
    });
  });

  describe(`${proto.name}: several model repositories`, { timeout: 120_000 }, () => {
    const s = serveFrom(proto, async (root) => {
      for (const [repo, models] of [['a', ['simple', 'identity_int32']], ['b', ['text_echo', 'identity_int32']]] as const) {
        for (const m of models) await cp(join(MODELS, m), join(root, repo, m), { recursive: true });
      }
      return [join(root, 'a'), join(root, 'b')];
    }, EXPLICIT);

    test('models from each repository serve; a name in two is a load error naming both folders', async () => {
      assert.equal(await s.c.isModelReady('simple'), true);
      assert.equal(await s.c.isModelReady('text_echo'), true);
      const index = await s.c.getModelRepositoryIndex();
      assert.deepEqual(index.map((e) => e.name), ['identity_int32', 'simple', 'text_echo']);
      const dup = index.find((e) => e.name === 'identity_int32')!;
      assert.equal(dup.state, 'UNAVAILABLE');
      const both = `${join(s.root, 'a', 'identity_int32')} and ${join(s.root, 'b', 'identity_int32')}`;
      assert.ok(dup.reason?.includes(`model 'identity_int32' is in more than one model repository: ${both}`), dup.reason);
      await loadFails(s.c, 'identity_int32', /is in more than one model repository/);
      // Once one copy goes, the other loads.
      await rm(join(s.root, 'b', 'identity_int32'), { recursive: true });
      await s.c.loadModel('identity_int32');
      assert.equal(await s.c.isModelReady('identity_int32'), true);
    });
  });
}
