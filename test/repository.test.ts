// The model repository through the SDK, over every protocol: broken models, auto-complete, versions,
// the repository API (index, load, unload), instance groups and crashing model code.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { InferenceClient, InferInput, RepositoryEntry } from '../packages/client/src/types.js';
import type { RunningServer } from '../src/server.js';
import { EXPLICIT, MODELS, PROTOCOLS, scratchRepo, serveScratch, startTestServer } from './harness.js';

const MY_MODEL_ONNX = join(MODELS, 'my_model', '1', 'model.onnx');

async function put(path: string, content: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

/** my_model's config.pbtxt, renamed and edited. */
async function myModelConfig(name: string, edit: (text: string) => string = (t) => t): Promise<string> {
  const text = await readFile(join(MODELS, 'my_model', 'config.pbtxt'), 'utf8');
  return edit(text.replace('name: "my_model"', `name: "${name}"`));
}

/** A copy of my_model under another name, with an edited config. */
async function myModelCopy(repo: string, name: string, edit?: (text: string) => string, versions = ['1']): Promise<void> {
  await put(join(repo, name, 'config.pbtxt'), await myModelConfig(name, edit));
  for (const v of versions) {
    await mkdir(join(repo, name, v), { recursive: true });
    await cp(MY_MODEL_ONNX, join(repo, name, v, 'model.onnx'));
  }
}

/** my_model input: row r holds r+1 everywhere, so its row sum is 128 * (r + 1). */
function rows(batch: number): InferInput[] {
  const x = new Float32Array(batch * 128);
  for (let i = 0; i < x.length; i++) x[i] = 1 + Math.floor(i / 128);
  return [{ name: 'INPUT0', datatype: 'FP32', shape: [batch, 128], data: x }];
}

async function assertRowSums(c: InferenceClient, model: string, batch: number, version?: string): Promise<string> {
  const r = await c.infer(model, rows(batch), { modelVersion: version });
  const out = r.output('OUTPUT0');
  assert.deepEqual(out.shape, [batch, 1]);
  assert.deepEqual(Array.from(out.typed<Float32Array>()), Array.from({ length: batch }, (_, i) => 128 * (i + 1)));
  assert.equal(r.modelName, model);
  return r.modelVersion;
}

/** Asserts the promise rejects with an InferenceError of this code whose message matches. */
async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.equal((e as { code?: unknown }).code, code, `expected ${code}, got ${String((e as { code?: unknown }).code)}: ${(e as Error).message}`);
    if (message) assert.match((e as Error).message, message);
    return true;
  });
}

/** Resolves or rejects with what p does, or rejects after ms. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const entriesOf = (index: RepositoryEntry[], name: string) => index.filter((e) => e.name === name);

// --- Model files written into scratch repositories ---

/** Waits DELAY_MS, then says which instance ran it and when (epoch ms; worker threads share the clock). */
const SLOW_MODEL_TS = `
export default class Slow {
  private instance = '';
  initialize(args: { instanceName: string }): void {
    this.instance = args.instanceName;
  }
  async execute(requests: any[]): Promise<any[]> {
    return Promise.all(requests.map(async (req) => {
      const start = Date.now();
      const ms = req.inputs.DELAY_MS.typed()[0];
      await new Promise((resolve) => setTimeout(resolve, ms));
      const end = Date.now();
      return {
        outputs: [
          { name: 'INSTANCE', datatype: 'BYTES', shape: [1], data: [this.instance] },
          { name: 'SPAN', datatype: 'FP64', shape: [2], data: new Float64Array([start, end]) },
        ],
      };
    }));
  }
}
`;

const slowConfig = (name: string, count: number) => `
name: "${name}"
backend: "typescript"
max_batch_size: 0
input [ { name: "DELAY_MS", data_type: TYPE_INT32, dims: [ 1 ] } ]
output [
  { name: "INSTANCE", data_type: TYPE_STRING, dims: [ 1 ] },
  { name: "SPAN", data_type: TYPE_FP64, dims: [ 2 ] }
]
instance_group [ { count: ${count}, kind: KIND_CPU } ]
`;

/** MODE "ok" echoes; anything else takes its worker down the way the model's code says. */
const crashModelTs = (crash: string) => `
export default class Crash {
  async execute(requests: any[]): Promise<any[]> {
    const mode = requests[0].inputs.MODE.strings()[0];
    if (mode !== 'ok') {
      ${crash}
      return new Promise(() => {});
    }
    return requests.map(() => ({ outputs: [{ name: 'OUT', datatype: 'BYTES', shape: [1], data: ['fine'] }] }));
  }
}
`;

const crashConfig = (name: string) => `
name: "${name}"
backend: "typescript"
max_batch_size: 0
input [ { name: "MODE", data_type: TYPE_STRING, dims: [ 1 ] } ]
output [ { name: "OUT", data_type: TYPE_STRING, dims: [ 1 ] } ]
`;

const mode = (m: string): InferInput[] => [{ name: 'MODE', datatype: 'BYTES', shape: [1], data: [m] }];

// --- Broken models, each with the words its reason must contain ---

interface Broken {
  name: string;
  reason: RegExp[];
  write(repo: string): Promise<void>;
}

const BROKEN: Broken[] = [
  {
    name: 'bad_syntax',
    reason: [/config\.pbtxt/],
    write: async (repo) => myModelCopy(repo, 'bad_syntax', (t) => t.replace('dims: [ 128 ]', 'dims: [ 128 ')),
  },
  {
    name: 'bad_datatype',
    reason: [/TYPE_FLOAT99/],
    write: async (repo) => myModelCopy(repo, 'bad_datatype', (t) => t.replace('TYPE_FP32', 'TYPE_FLOAT99')),
  },
  {
    name: 'dims_mismatch',
    reason: [/INPUT0/, /127/, /128/],
    write: async (repo) => myModelCopy(repo, 'dims_mismatch', (t) => t.replace('dims: [ 128 ]', 'dims: [ 127 ]')),
  },
  {
    name: 'type_mismatch',
    reason: [/INPUT0/, /TYPE_INT32/, /TYPE_FP32/],
    write: async (repo) => myModelCopy(repo, 'type_mismatch', (t) => t.replace('TYPE_FP32', 'TYPE_INT32')),
  },
  {
    name: 'no_model_file',
    reason: [/no model file/, /model\.onnx/],
    write: async (repo) => {
      await put(join(repo, 'no_model_file', 'config.pbtxt'), await myModelConfig('no_model_file'));
      await mkdir(join(repo, 'no_model_file', '1'), { recursive: true });
    },
  },
  {
    name: 'garbage_onnx',
    reason: [/garbage_onnx\/1\/model\.onnx/],
    write: async (repo) => {
      await put(join(repo, 'garbage_onnx', 'config.pbtxt'), await myModelConfig('garbage_onnx'));
      await put(join(repo, 'garbage_onnx', '1', 'model.onnx'), Buffer.from('this is not a protobuf \x00\x01\x02\xff\xfe garbage'.repeat(20), 'latin1'));
    },
  },
  {
    name: 'ts_import_throws',
    reason: [/kaboom at import/],
    write: async (repo) => {
      await put(join(repo, 'ts_import_throws', 'config.pbtxt'), crashConfig('ts_import_throws'));
      await put(join(repo, 'ts_import_throws', '1', 'model.ts'), `throw new Error('kaboom at import');\nexport default class X { execute() { return []; } }\n`);
    },
  },
  {
    name: 'wrong_name',
    reason: [/wrong_name/, /other_name/],
    write: async (repo) => {
      await myModelCopy(repo, 'wrong_name');
      const p = join(repo, 'wrong_name', 'config.pbtxt');
      await writeFile(p, (await readFile(p, 'utf8')).replace('name: "wrong_name"', 'name: "other_name"'));
    },
  },
];

for (const proto of PROTOCOLS) {
  describe(`${proto.name}: repository`, { timeout: 120_000 }, () => {
    describe('broken models are UNAVAILABLE with a reason; the rest still serve', () => {
      let repo: Awaited<ReturnType<typeof scratchRepo>>;
      let strict: RunningServer | undefined;
      let lenient: RunningServer | undefined;
      let c: InferenceClient;
      let cl: InferenceClient;
      before(async () => {
        repo = await scratchRepo(['my_model']);
        for (const b of BROKEN) await b.write(repo.dir);
        strict = await startTestServer(repo.dir);
        lenient = await startTestServer(repo.dir, { strictReadiness: false });
        c = proto.client(strict);
        cl = proto.client(lenient);
      });
      after(async () => {
        await c?.close();
        await cl?.close();
        await strict?.stop();
        await lenient?.stop();
        await repo?.cleanup();
      });

      for (const b of BROKEN) {
        test(`${b.name}: UNAVAILABLE in the index, reason names the problem`, async () => {
          const entries = entriesOf(await c.getModelRepositoryIndex(), b.name);
          assert.equal(entries.length, 1, `one index entry for ${b.name}: ${JSON.stringify(entries)}`);
          assert.equal(entries[0].state, 'UNAVAILABLE');
          for (const re of b.reason) assert.match(entries[0].reason ?? '', re);
          assert.equal(await c.isModelReady(b.name), false);
          await rejectsWith(c.infer(b.name, rows(1)), 'UNAVAILABLE', new RegExp(b.name));
        });
      }

      test('my_model still serves, and is the only model in the ready index', async () => {
        assert.equal(await c.isModelReady('my_model'), true);
        await assertRowSums(c, 'my_model', 2);
        const ready = await c.getModelRepositoryIndex({ ready: true });
        assert.deepEqual(ready.map((e) => [e.name, e.state]), [['my_model', 'READY']]);
        const all = await c.getModelRepositoryIndex();
        assert.deepEqual(new Set(all.map((e) => e.name)), new Set(['my_model', ...BROKEN.map((b) => b.name)]));
      });

      test('strict readiness: server live but not ready; strictReadiness false: ready', async () => {
        assert.equal(await c.isServerLive(), true);
        assert.equal(await c.isServerReady(), false);
        assert.equal(await cl.isServerLive(), true);
        assert.equal(await cl.isServerReady(), true);
        await assertRowSums(cl, 'my_model', 1);
      });
    });

    describe('auto-complete and versions', () => {
      let repo: Awaited<ReturnType<typeof scratchRepo>>;
      let server: RunningServer | undefined;
      let c: InferenceClient;
      before(async () => {
        repo = await scratchRepo();
        // No config at all: everything comes from the ONNX file.
        await mkdir(join(repo.dir, 'auto', '1'), { recursive: true });
        await cp(MY_MODEL_ONNX, join(repo.dir, 'auto', '1', 'model.onnx'));
        const v123 = ['1', '2', '3'];
        await myModelCopy(repo.dir, 'v_latest', undefined, v123);
        await myModelCopy(repo.dir, 'v_latest2', (t) => `${t}\nversion_policy: { latest { num_versions: 2 } }\n`, v123);
        await myModelCopy(repo.dir, 'v_all', (t) => `${t}\nversion_policy: { all {} }\n`, v123);
        await myModelCopy(repo.dir, 'v_specific', (t) => `${t}\nversion_policy: { specific { versions: [1, 3] } }\n`, v123);
        server = await startTestServer(repo.dir);
        c = proto.client(server);
      });
      after(async () => {
        await c?.close();
        await server?.stop();
        await repo?.cleanup();
      });

      test('a model with no config serves, its config completed from the ONNX file', async () => {
        assert.equal(await c.isModelReady('auto'), true);
        const cfg = await c.getModelConfig('auto');
        assert.equal(cfg.name, 'auto');
        assert.equal(cfg.max_batch_size, 4, 'batch dim is symbolic, so Triton-style default max_batch_size 4');
        assert.deepEqual(cfg.input.map((i) => [i.name, i.data_type, i.dims]), [['INPUT0', 'TYPE_FP32', [128]]]);
        assert.deepEqual(cfg.output.map((o) => [o.name, o.data_type, o.dims]), [['OUTPUT0', 'TYPE_FP32', [1]]]);
        assert.ok(cfg.backend === 'onnxruntime' || cfg.platform === 'onnxruntime_onnx', `backend/platform: ${cfg.backend}/${cfg.platform}`);
        const meta = await c.getModelMetadata('auto');
        assert.deepEqual(meta.inputs, [{ name: 'INPUT0', datatype: 'FP32', shape: [-1, 128] }]);
        assert.deepEqual(meta.outputs, [{ name: 'OUTPUT0', datatype: 'FP32', shape: [-1, 1] }]);
        await assertRowSums(c, 'auto', 4);
        await rejectsWith(c.infer('auto', rows(5)), 'INVALID_ARGUMENT', /batch size 5/);
      });

      test('default version policy serves only the latest version', async () => {
        assert.deepEqual((await c.getModelMetadata('v_latest')).versions, ['3']);
        assert.equal(await c.isModelReady('v_latest', '3'), true);
        assert.equal(await c.isModelReady('v_latest', '1'), false);
        assert.equal(await c.isModelReady('v_latest', '2'), false);
        assert.equal(await assertRowSums(c, 'v_latest', 1), '3');
        assert.equal(await assertRowSums(c, 'v_latest', 1, '3'), '3');
        await rejectsWith(c.infer('v_latest', rows(1), { modelVersion: '1' }), 'NOT_FOUND', /v_latest/);
      });

      test('latest { num_versions: 2 } serves the two highest versions', async () => {
        assert.deepEqual((await c.getModelMetadata('v_latest2')).versions, ['2', '3']);
        assert.equal(await c.isModelReady('v_latest2', '1'), false);
        assert.equal(await assertRowSums(c, 'v_latest2', 1, '2'), '2');
        assert.equal(await assertRowSums(c, 'v_latest2', 1), '3');
      });

      test('all {} serves every version; each answers with its own model_version', async () => {
        assert.deepEqual((await c.getModelMetadata('v_all')).versions, ['1', '2', '3']);
        for (const v of ['1', '2', '3']) {
          assert.equal(await c.isModelReady('v_all', v), true);
          assert.equal(await assertRowSums(c, 'v_all', 2, v), v);
          const mm = await c.getModelMetadata('v_all', v);
          assert.deepEqual(mm.versions, [v]);
        }
        assert.equal(await assertRowSums(c, 'v_all', 1), '3', 'no version given: the highest');
        const idx = entriesOf(await c.getModelRepositoryIndex(), 'v_all');
        assert.deepEqual(idx.map((e) => [e.version, e.state]).sort(), [['1', 'READY'], ['2', 'READY'], ['3', 'READY']]);
      });

      test('specific { versions: [1, 3] } serves 1 and 3; 2 is NOT_FOUND', async () => {
        assert.deepEqual((await c.getModelMetadata('v_specific')).versions, ['1', '3']);
        assert.equal(await c.isModelReady('v_specific', '1'), true);
        assert.equal(await c.isModelReady('v_specific', '2'), false);
        assert.equal(await c.isModelReady('v_specific', '3'), true);
        assert.equal(await assertRowSums(c, 'v_specific', 1, '1'), '1');
        assert.equal(await assertRowSums(c, 'v_specific', 1, '3'), '3');
        await rejectsWith(c.infer('v_specific', rows(1), { modelVersion: '2' }), 'NOT_FOUND', /v_specific/);
        await rejectsWith(c.getModelMetadata('v_specific', '2'), 'NOT_FOUND');
        await rejectsWith(c.getModelConfig('v_specific', '2'), 'NOT_FOUND');
        const idx = entriesOf(await c.getModelRepositoryIndex({ ready: true }), 'v_specific');
        assert.deepEqual(idx.map((e) => e.version).sort(), ['1', '3']);
      });
    });

    describe('repository API: index, load, unload', () => {
      const s = serveScratch(['my_model', 'simple'], EXPLICIT, proto);

      test('index lists every model with version and state; ready-only the same when all are ready', async () => {
        const all = await s.c.getModelRepositoryIndex();
        assert.deepEqual(all.map((e) => [e.name, e.version, e.state]), [['my_model', '1', 'READY'], ['simple', '1', 'READY']]);
        const ready = await s.c.getModelRepositoryIndex({ ready: true });
        assert.deepEqual(ready.map((e) => [e.name, e.state]), [['my_model', 'READY'], ['simple', 'READY']]);
        assert.equal(await s.c.isServerReady(), true);
      });

      test('unload: not ready, infer UNAVAILABLE, index says unloaded; server stays ready', async () => {
        await s.c.unloadModel('my_model');
        assert.equal(await s.c.isModelReady('my_model'), false);
        await rejectsWith(s.c.infer('my_model', rows(1)), 'UNAVAILABLE', /my_model/);
        const entries = entriesOf(await s.c.getModelRepositoryIndex(), 'my_model');
        assert.deepEqual(entries.map((e) => [e.state, e.reason]), [['UNAVAILABLE', 'unloaded']]);
        assert.deepEqual((await s.c.getModelRepositoryIndex({ ready: true })).map((e) => e.name), ['simple']);
        assert.equal(await s.c.isServerReady(), true, 'an unloaded model does not make a strict server unready');
        assert.equal(await s.c.isModelReady('simple'), true);
      });

      test('load again: ready and serving', async () => {
        await s.c.loadModel('my_model');
        assert.equal(await s.c.isModelReady('my_model'), true);
        await assertRowSums(s.c, 'my_model', 3);
        const entries = entriesOf(await s.c.getModelRepositoryIndex(), 'my_model');
        assert.deepEqual(entries.map((e) => [e.version, e.state]), [['1', 'READY']]);
      });

      test('load with a config override changes the served config; a plain load restores the file', async () => {
        const override = {
          name: 'my_model',
          backend: 'onnxruntime',
          max_batch_size: 2,
          input: [{ name: 'INPUT0', data_type: 'TYPE_FP32', dims: [128] }],
          output: [{ name: 'OUTPUT0', data_type: 'TYPE_FP32', dims: [1] }],
        };
        await s.c.loadModel('my_model', { config: JSON.stringify(override) });
        assert.equal((await s.c.getModelConfig('my_model')).max_batch_size, 2);
        await assertRowSums(s.c, 'my_model', 2);
        await rejectsWith(s.c.infer('my_model', rows(3)), 'INVALID_ARGUMENT', /batch size 3/);

        await s.c.loadModel('my_model');
        assert.equal((await s.c.getModelConfig('my_model')).max_batch_size, 8);
        await assertRowSums(s.c, 'my_model', 3);
      });

      test('a config override that contradicts the model file fails the load; the loaded model keeps serving', async () => {
        const bad = { name: 'simple', backend: 'onnxruntime', max_batch_size: 8, input: [{ name: 'NOPE', data_type: 'TYPE_INT32', dims: [16] }], output: [{ name: 'OUTPUT0', data_type: 'TYPE_INT32', dims: [16] }] };
        await rejectsWith(s.c.loadModel('simple', { config: JSON.stringify(bad) }), 'INVALID_ARGUMENT', /simple.*NOPE/);
        assert.equal(await s.c.isModelReady('simple'), true);
        const entries = entriesOf(await s.c.getModelRepositoryIndex(), 'simple');
        assert.deepEqual(entries.map((e) => [e.version, e.state]), [['1', 'READY']]);
        assert.equal((await s.c.getModelConfig('simple')).input[0]?.name, 'INPUT0', 'the old config still serves');
        assert.equal(await s.c.isServerReady(), true);
      });

      test('load of a model folder that does not exist fails and leaves the server as it was', async () => {
        await assert.rejects(s.c.loadModel('no_such_model'), (e: Error) => {
          assert.ok((e as { code?: string }).code !== undefined, 'an InferenceError');
          assert.match(e.message, /no_such_model/);
          return true;
        });
        assert.equal(await s.c.isModelReady('no_such_model'), false);
        assert.equal(await s.c.isServerReady(), true, 'a failed load of a name the repository lacks does not make the server unready');
        assert.deepEqual(entriesOf(await s.c.getModelRepositoryIndex(), 'no_such_model'), [], 'not listed in the index');
        // Names that would leave the repository folder are refused, not resolved.
        for (const name of ['../my_model', '..', 'my_model/../simple']) {
          await assert.rejects(s.c.loadModel(name), (e: Error) => (e as { code?: string }).code !== undefined, name);
          assert.equal(await s.c.isModelReady(name), false, name);
        }
        assert.equal(await s.c.isServerReady(), true);
        assert.deepEqual((await s.c.getModelRepositoryIndex()).map((e) => e.name), ['my_model', 'simple']);
      });

      test('unload of an unknown model is NOT_FOUND', async () => {
        await rejectsWith(s.c.unloadModel('no_such_model_either'), 'NOT_FOUND', /no_such_model_either/);
      });

      test('the index picks up a model folder added after start; loading it serves it', async () => {
        await myModelCopy(s.repo.dir, 'late_model');
        const entries = entriesOf(await s.c.getModelRepositoryIndex(), 'late_model');
        assert.deepEqual(entries.map((e) => [e.state, e.reason]), [['UNAVAILABLE', 'not loaded']]);
        assert.deepEqual(entriesOf(await s.c.getModelRepositoryIndex({ ready: true }), 'late_model'), []);
        assert.equal(await s.c.isModelReady('late_model'), false);
        await s.c.loadModel('late_model');
        assert.equal(await s.c.isModelReady('late_model'), true);
        await assertRowSums(s.c, 'late_model', 2);
        assert.deepEqual(entriesOf(await s.c.getModelRepositoryIndex({ ready: true }), 'late_model').map((e) => e.state), ['READY']);
      });
    });

    describe('instances and crashing model code', () => {
      let repo: Awaited<ReturnType<typeof scratchRepo>>;
      let server: RunningServer | undefined;
      let c: InferenceClient;
      before(async () => {
        repo = await scratchRepo(['my_model']);
        await put(join(repo.dir, 'slow2', 'config.pbtxt'), slowConfig('slow2', 2));
        await put(join(repo.dir, 'slow2', '1', 'model.ts'), SLOW_MODEL_TS);
        await put(join(repo.dir, 'crash_exit', 'config.pbtxt'), crashConfig('crash_exit'));
        await put(join(repo.dir, 'crash_exit', '1', 'model.ts'), crashModelTs('process.exit(3);'));
        await put(join(repo.dir, 'crash_throw', 'config.pbtxt'), crashConfig('crash_throw'));
        await put(join(repo.dir, 'crash_throw', '1', 'model.ts'), crashModelTs(`setTimeout(() => { throw new Error('boom in a timer'); }, 0);`));
        server = await startTestServer(repo.dir, EXPLICIT);
        c = proto.client(server);
      });
      after(async () => {
        await c?.close();
        await server?.stop();
        await repo?.cleanup();
      });

      test('instance_group count 2: two concurrent slow requests run on two instances at once', async () => {
        const cfg = await c.getModelConfig('slow2');
        assert.deepEqual(cfg.instance_group?.map((g) => g.count), [2]);
        const delay: InferInput[] = [{ name: 'DELAY_MS', datatype: 'INT32', shape: [1], data: new Int32Array([400]) }];
        const [a, b] = await Promise.all([c.infer('slow2', delay), c.infer('slow2', delay)]);
        const names = [a, b].map((r) => r.output('INSTANCE').strings()[0]);
        assert.notEqual(names[0], names[1], `two instances used: ${names.join(', ')}`);
        for (const n of names) assert.match(n, /^slow2/);
        const [sa, ea] = Array.from(a.output('SPAN').typed<Float64Array>());
        const [sb, eb] = Array.from(b.output('SPAN').typed<Float64Array>());
        assert.ok(ea - sa >= 390 && eb - sb >= 390, 'each waited its delay');
        assert.ok(sa < eb && sb < ea, `the two executions overlap: [${sa}, ${ea}] and [${sb}, ${eb}]`);
      });

      for (const [name, cause] of [['crash_exit', /exited \(code 3\)/], ['crash_throw', /crashed: boom in a timer/]] as const) {
        test(`${name}: a crash in model code fails that request; the server keeps serving`, async () => {
          assert.equal(await (await c.infer(name, mode('ok'))).output('OUT').strings()[0], 'fine');
          await assert.rejects(within(c.infer(name, mode('crash')), 10_000, `request to ${name}`), (e: Error) => {
            assert.equal((e as { code?: string }).code, 'INTERNAL', e.message);
            assert.match(e.message, new RegExp(name));
            assert.match(e.message, cause);
            return true;
          });
          assert.equal(await c.isServerLive(), true);
          await assertRowSums(c, 'my_model', 2);
          // The crashed instance is restarted: the model's next request succeeds without a reload.
          const next = await within(c.infer(name, mode('ok')), 10_000, `next request to ${name}`);
          assert.equal(next.output('OUT').strings()[0], 'fine');
          // Reloading starts fresh instances, and the model serves again.
          await c.loadModel(name);
          assert.equal(await (await c.infer(name, mode('ok'))).output('OUT').strings()[0], 'fine');
          // A request waiting behind the crashing one (staged on its worker) is not lost with it: it runs on the restarted instance.
          const crashing = c.infer(name, mode('crash')).then(() => undefined, (e: Error) => e);
          const behind = await within(c.infer(name, mode('ok')), 10_000, `request behind a crash of ${name}`);
          assert.equal(behind.output('OUT').strings()[0], 'fine');
          assert.match(String((await crashing)?.message), cause);
        });
      }
    });
  });
}
