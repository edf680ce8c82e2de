// GET /v2/openapi.json: valid OpenAPI 3.1; lists exactly the routes the server dispatches with (its
// route table), each with its own entry; every documented operation answers on a real server and no
// other method does; real answers (JSON, errors, server-sent events) match the documented schemas.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import { baseUrl, MODELS, startTestServer } from './harness.js';
import type { RunningServer } from '../src/server.js';
import { OPERATIONS } from '../src/protocols/http/openapi/operations.js';
import { undocumented } from '../src/protocols/http/openapi/document.js';

type Json = Record<string, any>;
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];
/** Paths other parts of the server answer: each must be a table route whenever it answers at all. */
const PROBES = ['/', '/console/settings', '/v1/models', '/index.html', '/favicon.ico'];

const ones = Array.from({ length: 128 }, () => 1);
/** One real request per operation (a versioned route uses its unversioned entry). */
const SAMPLES: Record<string, { model?: string; body?: unknown }> = {
  modelInfer: { body: { inputs: [{ name: 'INPUT0', shape: [1, 128], datatype: 'FP32', data: ones }] } },
  modelGenerate: { model: 'text_echo', body: { text_input: 'hello' } },
  modelGenerateStream: { model: 'tiny_gpt', body: { text_input: 'the', max_tokens: 3, seed: 1 } },
  repositoryIndex: { body: { ready: true } },
  repositoryModelUnload: { model: 'text_echo' },
  repositoryModelLoad: { model: 'text_echo' },
  'GET /v1/models/{model}': { model: 'tiny_gpt' },
  'POST /v1/completions': { body: { model: 'tiny_gpt', prompt: 'the', max_tokens: 3, seed: 1 } },
  'POST /v1/chat/completions': { body: { model: 'tiny_gpt', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, seed: 1 } },
};
const sampleOf = (op: Json, method: string, path: string) =>
  SAMPLES[String(op.operationId).replace(/^modelVersion/, 'model')] ?? SAMPLES[`${method} ${path}`] ?? {};

function urlOf(path: string, model = 'my_model', file = ''): string {
  return path.replace('{model_name}', encodeURIComponent(model)).replace('{model}', model).replace('{model_version}', '1').replace('{file}', file);
}

/** The schema of an operation's error bodies (KServe's or OpenAI's), from its documented default answer. */
const errorSchema = (op: Json): Json => op.responses.default.content['application/json'].schema;

/** Every operation in the document as [path, METHOD, operation], repository load/unload last (they change state). */
function operations(doc: Json): [string, string, Json][] {
  const out: [string, string, Json][] = [];
  for (const [path, ops] of Object.entries(doc.paths as Json)) for (const [m, op] of Object.entries(ops as Json)) out.push([path, m.toUpperCase(), op as Json]);
  const rank = (op: Json) => ({ repositoryModelUnload: 1, repositoryModelLoad: 2 } as Record<string, number>)[op.operationId] ?? 0;
  return out.sort((a, b) => rank(a[2]) - rank(b[2]));
}

/** Validates bodies against the document's schemas with ajv (JSON Schema 2020-12, as OpenAPI 3.1). */
function schemaChecker(doc: Json) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  formats.default(ajv);
  ajv.addSchema({ $id: 'duet-openapi', components: doc.components });
  return (schema: Json, value: unknown, what: string) => {
    const v = ajv.compile(resolveLocal(schema));
    assert.ok(v(value), `${what}: ${ajv.errorsText(v.errors)}\n${JSON.stringify(value).slice(0, 400)}`);
  };
}
/** A response schema's local $refs, pointed at the document added to ajv. */
function resolveLocal(schema: Json): Json {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"duet-openapi#/components/'));
}

describe('OpenAPI document', () => {
  let server: RunningServer;
  let doc: Json;
  let check: ReturnType<typeof schemaChecker>;
  before(async () => {
    // The example repository itself: tiny_gpt imports onnxruntime-node from the project's node_modules.
    server = await startTestServer(MODELS, { modelControlMode: 'explicit', loadModels: ['my_model', 'text_echo', 'tiny_gpt'] });
    const r = await fetch(`${baseUrl(server)}/v2/openapi.json`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    doc = await r.json() as Json;
    check = schemaChecker(doc);
  });
  after(async () => {
    await server?.stop();
  });

  test('is valid OpenAPI 3.1, its $refs resolve, and its version is the package\'s', async () => {
    const v = new Validator();
    const res = await v.validate(structuredClone(doc));
    assert.ok(res.valid, JSON.stringify(res.errors, null, 2));
    assert.equal(v.version, '3.1');
    v.resolveRefs();
    for (const m of JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) assert.ok(doc.components.schemas[m[1]], `$ref to ${m[1]}`);
    const { readFile } = await import('node:fs/promises');
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(doc.info.version, pkg.version);
  });

  test('lists exactly the routes the server dispatches with, each with its own entry', () => {
    const served = server.restRoutes.map((r) => `${r.method} ${r.path}`).sort();
    const documented = operations(doc).map(([p, m]) => `${m} ${p}`).sort();
    assert.deepEqual(documented, served);
    assert.deepEqual(undocumented(server.restRoutes).map((r) => r.id), []);
    assert.equal(new Set(server.restRoutes.map((r) => r.id)).size, server.restRoutes.length);
    // No stale entries: with every part on (the console included), each entry is a served route.
    const servedNoVersion = new Set(served.map((s) => s.replace('/versions/{model_version}', '')));
    for (const key of Object.keys(OPERATIONS)) assert.ok(servedNoVersion.has(key), `operations.ts documents ${key}, which the server does not serve`);
    assert.deepEqual([...new Set(server.restRoutes.map((r) => r.tag))].sort(),
      ['console', 'docs', 'generate', 'health', 'inference', 'metadata', 'openai', 'repository', 'statistics']);
  });

  test('every documented operation answers, matching its documented answer; no other method is routed', async () => {
    const base = baseUrl(server);
    // A console asset's name (content-hashed) as the page names it, when the console is served.
    const page = doc.paths['/'] ? await (await fetch(`${base}/`)).text() : '';
    const asset = /\/console\/assets\/([^"'?#]+)/.exec(page)?.[1] ?? '';
    for (const [path, method, op] of operations(doc)) {
      const sample = sampleOf(op, method, path);
      const url = base + urlOf(path, sample.model, asset);
      const r = await fetch(url, {
        method,
        ...(sample.body !== undefined ? { body: JSON.stringify(sample.body), headers: { 'content-type': 'application/json' } } : {}),
      });
      const what = `${method} ${path} -> ${r.status}`;
      if (r.status >= 500) assert.fail(`${what}: ${await r.text()}`);
      assert.ok(r.status !== 404 && r.status !== 405, what);
      assert.ok(r.status < 500, what);
      const documented = op.responses[String(r.status)] ?? op.responses.default;
      assert.ok(documented, `${what}: status not documented`);
      const type = (r.headers.get('content-type') ?? '').split(';')[0].trim();
      const text = await r.text();
      if (!documented.content) {
        assert.equal(text, '', `${what}: an answer documented without a body has none`);
        continue;
      }
      const media = documented.content[type] ?? documented.content['*/*'];
      assert.ok(media, `${what}: content type '${type}' not documented`);
      if (type === 'application/json') check(media.schema, JSON.parse(text), what);
      if (type === 'text/event-stream') {
        const frames = text.split('\n\n').filter((f) => f.startsWith('data: ') && f !== 'data: [DONE]');
        assert.ok(frames.length > 0, `${what}: no events`);
        const each = op.tags[0] === 'generate' ? { $ref: '#/components/schemas/GenerateResponse' }
          : { oneOf: [{ $ref: '#/components/schemas/CompletionChunk' }, { $ref: '#/components/schemas/ChatCompletionChunk' }] };
        for (const f of frames) check(each, JSON.parse(f.slice(6)), what);
      }
      // The same path with any other method is not routed.
      for (const other of METHODS.filter((m) => m !== method && !doc.paths[path][m.toLowerCase()])) {
        const o = await fetch(url, { method: other });
        assert.equal(o.status, 404, `${other} ${path}`);
        check(errorSchema(op), await o.json(), `${other} ${path}`);
      }
    }
  });

  test('error answers and binary inference match the document', async () => {
    const base = baseUrl(server);
    const paths = doc.paths as Json;
    const missing = await fetch(`${base}/v2/models/no_such_model/config`);
    assert.equal(missing.status, 404);
    check(paths['/v2/models/{model_name}/config'].get.responses['404'].content['application/json'].schema, await missing.json(), '404');
    const bad = await fetch(`${base}/v2/models/my_model/infer`, { method: 'POST', body: '{"inputs": 3}' });
    assert.equal(bad.status, 400);
    check(paths['/v2/models/{model_name}/infer'].post.responses['400'].content['application/json'].schema, await bad.json(), '400');
    // Binary outputs: application/octet-stream with the documented header.
    const body = JSON.stringify({ inputs: [{ name: 'INPUT0', shape: [1, 128], datatype: 'FP32', data: ones }], parameters: { binary_data_output: true } });
    const bin = await fetch(`${base}/v2/models/my_model/infer`, { method: 'POST', body });
    assert.equal(bin.status, 200);
    const ok = paths['/v2/models/{model_name}/infer'].post.responses['200'];
    assert.ok(ok.content[bin.headers.get('content-type')!]);
    const headerLength = Number(bin.headers.get('inference-header-content-length'));
    assert.ok(ok.headers['Inference-Header-Content-Length'] && headerLength > 0);
    const bytes = Buffer.from(await bin.arrayBuffer());
    check({ $ref: '#/components/schemas/InferenceResponse' }, JSON.parse(bytes.subarray(0, headerLength).toString()), 'binary header');
    // What other parts of the server answer is in the table (so in the document) whenever it answers.
    const served = new Set(server.restRoutes.map((r) => r.path));
    for (const p of PROBES) {
      const r = await fetch(base + p);
      await r.arrayBuffer();
      if (r.status !== 404) assert.ok(served.has(p), `${p} answers ${r.status} but is not a route in the table`);
    }
    // Near misses of documented paths are not routed.
    for (const p of ['/v2/models', '/v2/health', '/v2/models/my_model/nothing', '/v2/repository/models/my_model', '/v2/openapi', '/v3']) {
      assert.equal((await fetch(base + p)).status, 404, p);
    }
  });

  test('the HTML rendering shows every operation and schema, with no script and a strict CSP', async () => {
    const r = await fetch(`${baseUrl(server)}/v2/openapi.html`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
    assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    const html = await r.text();
    assert.doesNotMatch(html, /<script/i);
    for (const [, , op] of operations(doc)) assert.ok(html.includes(`id="op-${op.operationId}"`), String(op.operationId));
    for (const name of Object.keys(doc.components.schemas)) assert.ok(html.includes(`id="schema-${name}"`), name);
    assert.ok(html.length < 200_000, `${html.length} bytes`);
  });
});

describe('OpenAPI document with the console off', () => {
  let server: RunningServer;
  before(async () => {
    server = await startTestServer(undefined, { console: false, modelControlMode: 'explicit', loadModels: [] });
  });
  after(() => server?.stop());

  test('leaves out the console routes and schema, which answer 404', async () => {
    const doc = await (await fetch(`${baseUrl(server)}/v2/openapi.json`)).json() as Json;
    const paths = Object.keys(doc.paths);
    assert.deepEqual(paths.filter((p) => p === '/' || p.startsWith('/console/')), []);
    assert.equal(doc.components.schemas.ConsoleSettings, undefined);
    assert.ok(paths.includes('/v1/chat/completions'));
    assert.equal(server.restRoutes.some((r) => r.tag === 'console'), false);
    for (const p of ['/', '/console/settings']) assert.equal((await fetch(baseUrl(server) + p)).status, 404, p);
  });
});

describe('OpenAPI document under an API key and restricted APIs', () => {
  let server: RunningServer;
  before(async () => {
    server = await startTestServer(undefined, {
      apiKey: 'k3y', httpRestrictedApis: { inference: { header: 'infer-key', value: 'v' } }, loadModels: ['my_model'], modelControlMode: 'explicit',
    });
  });
  after(() => server?.stop());

  test('is open without the key and states each route\'s requirements', async () => {
    const base = baseUrl(server);
    const r = await fetch(`${base}/v2/openapi.json`);
    assert.equal(r.status, 200);
    const doc = await r.json() as Json;
    assert.equal((await fetch(`${base}/v2/openapi.html`)).status, 200);
    assert.deepEqual(doc.paths['/v2/health/live'].get.security, []);
    assert.deepEqual(doc.paths['/v2/openapi.json'].get.security, []);
    assert.deepEqual(doc.paths['/v2'].get.security, [{ apiKey: [] }]);
    const infer = doc.paths['/v2/models/{model_name}/infer'].post;
    assert.deepEqual(infer.security, [{ apiKey: [], restricted_inference: [] }]);
    assert.deepEqual(doc.components.securitySchemes.restricted_inference, {
      type: 'apiKey', in: 'header', name: 'infer-key', description: "Triton's restricted 'inference' API (--http-restricted-api).",
    });
    assert.doesNotMatch(JSON.stringify(doc), /"v"/, 'the restricted value is not in the document');
    // The refusals match the documented answers.
    const check = schemaChecker(doc);
    const noKey = await fetch(`${base}/v2/models/my_model/infer`, { method: 'POST', body: '{}' });
    assert.equal(noKey.status, 401);
    check(infer.responses['401'].content['application/json'].schema, await noKey.json(), '401');
    const noHeader = await fetch(`${base}/v2/models/my_model/infer`, { method: 'POST', body: '{}', headers: { authorization: 'Bearer k3y' } });
    assert.equal(noHeader.status, 403);
    check(infer.responses['403'].content['application/json'].schema, await noHeader.json(), '403');
  });
});
