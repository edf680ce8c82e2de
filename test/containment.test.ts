// Containment, over every protocol: a file a model config names (default_model_filename, label_filename,
// the model file itself) must stay inside that model's folder. '..', absolute paths and symlinks that
// leave the repository are refused, whether the config is on disk or comes with a load request; and a
// config may not ask for more instances than --max-instances-per-model.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import type { InferenceClient, InferInput } from '../packages/client/src/types.js';
import type { RunningServer } from '../src/server.js';
import { baseUrl, EXPLICIT, MODELS, PROTOCOLS, scratchRepo, serveScratch, startTestServer } from './harness.js';

async function rejectsWith(p: Promise<unknown>, code: string, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(p, (e: Error & { code?: string }) => {
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    for (const re of patterns) assert.match(e.message, re);
    return true;
  });
}

const TEXT_IO = {
  max_batch_size: 0,
  input: [{ name: 'text_input', data_type: 'TYPE_STRING', dims: [1] }],
  output: [{ name: 'text_output', data_type: 'TYPE_STRING', dims: [1] }],
};
const tsConfig = (file: string) => JSON.stringify({ name: 'text_echo', backend: 'typescript', default_model_filename: file, ...TEXT_IO });

const digitsConfig = (label: string) => JSON.stringify({
  name: 'digits', backend: 'onnxruntime', max_batch_size: 32,
  input: [{ name: 'INPUT0', data_type: 'TYPE_FP32', dims: [64] }],
  output: [{ name: 'OUTPUT0', data_type: 'TYPE_FP32', dims: [10], label_filename: label }],
});

const echo = async (c: InferenceClient) =>
  (await c.infer('text_echo', [{ name: 'text_input', datatype: 'BYTES', shape: [1], data: ['hi'] }])).output('text_output').strings()[0];

/** digits, top-1 classification: "value:index:label". */
async function topLabel(c: InferenceClient, model = 'digits'): Promise<string> {
  const x: InferInput = { name: 'INPUT0', datatype: 'FP32', shape: [1, 64], data: new Float32Array(64) };
  const r = await c.infer(model, [x], { outputs: [{ name: 'OUTPUT0', classCount: 1 }] });
  return r.output('OUTPUT0').strings()[0]!;
}

// Outside every repository: a module that leaves a marker when imported, a secret file, a model file.
let outside: string;
let evil: string;
let marker: string;
let secret: string;
before(async () => {
  outside = await mkdtemp(join(tmpdir(), 'duet-outside-'));
  marker = join(outside, 'IMPORTED');
  evil = join(outside, 'x', 'evil.mjs');
  await mkdir(join(outside, 'x'));
  await writeFile(evil, `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'pwned');\nexport default class Evil { execute(r) { return r.map(() => ({ outputs: [] })); } }\n`);
  secret = join(outside, 'secret.txt');
  await writeFile(secret, 'root:x:0:0:secret\n');
  await cp(join(MODELS, 'my_model', '1', 'model.onnx'), join(outside, 'model.onnx'));
});
after(() => rm(outside, { recursive: true, force: true }));

for (const proto of PROTOCOLS) {
  describe(`${proto.name}: config overrides cannot name files outside the model`, { timeout: 60_000 }, () => {
    const s = serveScratch(['text_echo', 'digits'], EXPLICIT, proto);

    test('default_model_filename with ../ to a module outside: INVALID_ARGUMENT, never imported', async () => {
      const rel = relative(join(s.repo.dir, 'text_echo', '1'), evil);
      assert.match(rel, /^\.\.\//);
      await rejectsWith(s.c.loadModel('text_echo', { config: tsConfig(rel) }), 'INVALID_ARGUMENT', /text_echo/, /default_model_filename/, /'\.\.'/);
      await rejectsWith(s.c.loadModel('text_echo', { config: tsConfig(evil) }), 'INVALID_ARGUMENT', /default_model_filename/, /absolute/);
      assert.equal(existsSync(marker), false, 'the module outside the repository was imported');
      assert.equal(await echo(s.c), 'hi', 'the loaded text_echo keeps serving');
    });

    test('label_filename with ../ or an absolute path: refused at load; classification keeps the real labels', async () => {
      for (const label of ['../../../../etc/passwd', '/etc/passwd', secret, 'sub/../../digits/labels.txt']) {
        await rejectsWith(s.c.loadModel('digits', { config: digitsConfig(label) }), 'INVALID_ARGUMENT', /digits/, /label_filename/);
      }
      assert.match(await topLabel(s.c), /^[-\d.]+:\d:[a-z]+$/);
      assert.doesNotMatch(await topLabel(s.c), /root|secret/);
    });

    test('a label file named inside the model folder is fine', async () => {
      await s.c.loadModel('digits', { config: digitsConfig('./labels.txt') });
      assert.match(await topLabel(s.c), /:[a-z]+$/);
    });
  });

  describe(`${proto.name}: configs on disk cannot name files outside the repository`, { timeout: 60_000 }, () => {
    let repo: Awaited<ReturnType<typeof scratchRepo>>;
    let elsewhere: string;
    let server: RunningServer;
    let c: InferenceClient;
    /** A copy of digits at `dir` (relative to the repository), named after its last path segment. */
    const digitsCopy = async (dir: string, label = 'labels.txt') => {
      const name = basename(dir);
      await cp(join(MODELS, 'digits'), join(repo.dir, dir), { recursive: true });
      const p = join(repo.dir, dir, 'config.pbtxt');
      await writeFile(p, (await readFile(p, 'utf8')).replace('name: "digits"', `name: "${name}"`).replace('"labels.txt"', JSON.stringify(label)));
    };
    const tsModel = async (name: string, configExtra: string) => {
      await mkdir(join(repo.dir, name, '1'), { recursive: true });
      await writeFile(join(repo.dir, name, 'config.pbtxt'), `name: "${name}"\nbackend: "typescript"\nmax_batch_size: 0\n${configExtra}
input [ { name: "text_input", data_type: TYPE_STRING, dims: [ 1 ] } ]
output [ { name: "text_output", data_type: TYPE_STRING, dims: [ 1 ] } ]\n`);
    };
    before(async () => {
      repo = await scratchRepo(['digits']);
      // Labels: a symlink out of the repository, '..', and a symlink to another model's file (allowed).
      await digitsCopy('label_link_out');
      await rm(join(repo.dir, 'label_link_out', 'labels.txt'));
      await symlink(secret, join(repo.dir, 'label_link_out', 'labels.txt'));
      await digitsCopy('label_dotdot', '../digits/labels.txt');
      await digitsCopy('label_link_in');
      await rm(join(repo.dir, 'label_link_in', 'labels.txt'));
      await symlink('../digits/labels.txt', join(repo.dir, 'label_link_in', 'labels.txt'));
      // Model files: an ONNX file and a TypeScript module reached through symlinks out of the repository.
      await mkdir(join(repo.dir, 'onnx_link_out', '1'), { recursive: true });
      await symlink(join(outside, 'model.onnx'), join(repo.dir, 'onnx_link_out', '1', 'model.onnx'));
      await tsModel('ts_link_out', '');
      await symlink(evil, join(repo.dir, 'ts_link_out', '1', 'model.mjs'));
      await tsModel('ts_dotdot', `default_model_filename: "../../${relative(repo.dir, evil)}"`);
      await tsModel('ts_absolute', `default_model_filename: ${JSON.stringify(evil)}`);
      // Model folders that are symlinks keep working: one to a hidden folder in the repository, one to a
      // folder outside it that the operator placed there.
      await digitsCopy('.store/linked_in');
      await symlink(join('.store', 'linked_in'), join(repo.dir, 'linked_in'));
      elsewhere = await mkdtemp(join(tmpdir(), 'duet-elsewhere-'));
      await digitsCopy(relative(repo.dir, join(elsewhere, 'linked_out')));
      await symlink(join(elsewhere, 'linked_out'), join(repo.dir, 'linked_out'));
      server = await startTestServer(repo.dir, { strictReadiness: false });
      c = proto.client(server);
    });
    after(async () => {
      await c?.close();
      await server?.stop();
      await repo?.cleanup();
      if (elsewhere) await rm(elsewhere, { recursive: true, force: true });
    });

    const unavailable: [string, RegExp[]][] = [
      ['label_link_out', [/label_filename/, /symlink/, /outside the model repository/]],
      ['label_dotdot', [/label_filename/, /'\.\.'/]],
      ['onnx_link_out', [/model file/, /1\/model\.onnx/, /symlink/]],
      ['ts_link_out', [/model file/, /1\/model\.mjs/, /symlink/]],
      ['ts_dotdot', [/default_model_filename/, /'\.\.'/]],
      ['ts_absolute', [/default_model_filename/, /absolute/]],
    ];
    for (const [name, reasons] of unavailable) {
      test(`${name}: UNAVAILABLE, the reason names the field and the model`, async () => {
        const entries = (await c.getModelRepositoryIndex()).filter((e) => e.name === name);
        assert.equal(entries.length, 1, JSON.stringify(entries));
        assert.equal(entries[0]!.state, 'UNAVAILABLE');
        for (const re of [new RegExp(`model '${name}'`), ...reasons]) assert.match(entries[0]!.reason ?? '', re);
        await rejectsWith(c.infer(name, []), 'UNAVAILABLE', new RegExp(name));
      });
    }

    test('nothing outside was imported', () => {
      assert.equal(existsSync(marker), false);
    });

    test('symlinks inside the repository and symlinked model folders keep working', async () => {
      for (const name of ['digits', 'label_link_in', 'linked_in', 'linked_out']) {
        assert.equal(await c.isModelReady(name), true, name);
        assert.match(await topLabel(c, name), /:[a-z]+$/, name);
      }
    });
  });

  describe(`${proto.name}: --max-instances-per-model`, { timeout: 60_000 }, () => {
    let repo: Awaited<ReturnType<typeof scratchRepo>>;
    let server: RunningServer;
    let c: InferenceClient;
    const withGroups = (counts: number[]) =>
      JSON.stringify({ name: 'text_echo', backend: 'typescript', ...TEXT_IO, instance_group: counts.map((count) => ({ count, kind: 'KIND_CPU' })) });
    before(async () => {
      repo = await scratchRepo(['text_echo']);
      await cp(join(MODELS, 'text_echo'), join(repo.dir, 'too_many'), { recursive: true });
      const p = join(repo.dir, 'too_many', 'config.pbtxt');
      await writeFile(p, `${(await readFile(p, 'utf8')).replace('name: "text_echo"', 'name: "too_many"')}\ninstance_group [ { count: 3, kind: KIND_CPU } ]\n`);
      server = await startTestServer(repo.dir, { ...EXPLICIT, maxInstancesPerModel: 2, strictReadiness: false });
      c = proto.client(server);
    });
    after(async () => {
      await c?.close();
      await server?.stop();
      await repo?.cleanup();
    });

    test('an override asking for more instances than the cap is INVALID_ARGUMENT; the model keeps serving', async () => {
      await rejectsWith(c.loadModel('text_echo', { config: withGroups([32]) }), 'INVALID_ARGUMENT', /text_echo/, /32 instances/, /limit of 2/, /--max-instances-per-model/);
      await rejectsWith(c.loadModel('text_echo', { config: withGroups([2, 1]) }), 'INVALID_ARGUMENT', /3 instances/);
      assert.equal(await echo(c), 'hi');
      await c.loadModel('text_echo', { config: withGroups([2]) });
      assert.deepEqual((await c.getModelConfig('text_echo')).instance_group?.map((g) => g.count), [2]);
    });

    test('a config on disk above the cap is UNAVAILABLE with the reason', async () => {
      const [e] = (await c.getModelRepositoryIndex()).filter((x) => x.name === 'too_many');
      assert.equal(e?.state, 'UNAVAILABLE');
      assert.match(e?.reason ?? '', /3 instances.*limit of 2.*--max-instances-per-model/);
    });
  });
}

test('REST: the load with a module path outside the repository is HTTP 400, and nothing is imported', async () => {
  const repo = await scratchRepo(['text_echo']);
  const server = await startTestServer(repo.dir, EXPLICIT);
  try {
    const config = tsConfig(relative(join(repo.dir, 'text_echo', '1'), evil));
    const res = await fetch(`${baseUrl(server)}/v2/repository/models/text_echo/load`, { method: 'POST', body: JSON.stringify({ parameters: { config } }) });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: string }).error, /default_model_filename/);
    assert.equal(existsSync(marker), false);
  } finally {
    await server.stop();
    await repo.cleanup();
  }
});
