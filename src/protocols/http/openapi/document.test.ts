import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kserveRoutes } from '../routes.js';
import type { RestRoute } from '../route-table.js';
import { openApiDocument, undocumented } from './document.js';
import { renderHtml } from './html.js';

const route = (method: RestRoute['method'], path: string, tag: string, id = path): RestRoute =>
  ({ method, path, id, tag, label: tag, handle: async () => ({ status: 200 }) });

test('the OpenAI and console parts of the document appear only with their routes', () => {
  const bare = openApiDocument(kserveRoutes()) as any;
  assert.equal(bare.components.schemas.OpenAIError, undefined);
  assert.equal(bare.components.schemas.ConsoleSettings, undefined);
  assert.equal(bare.paths['/v1/models'], undefined);
  const full = openApiDocument([...kserveRoutes(), route('GET', '/v1/models', 'openai'), route('GET', '/console/settings', 'console')]) as any;
  assert.ok(full.components.schemas.OpenAIError && full.components.schemas.ConsoleSettings);
  // /v1 errors are OpenAI's error object; the console's settings are KServe-style.
  assert.equal(full.paths['/v1/models'].get.responses.default.content['application/json'].schema.$ref, '#/components/schemas/OpenAIError');
  assert.equal(full.paths['/console/settings'].get.responses.default.content['application/json'].schema.$ref, '#/components/schemas/Error');
  assert.deepEqual(full.tags.map((t: { name: string }) => t.name).slice(-2), ['openai', 'console']);
});

test('a route without an entry is still listed, and reported', () => {
  const extra = route('POST', '/v2/something/new', 'kserve', 'somethingNew');
  const doc = openApiDocument([...kserveRoutes(), extra]) as any;
  assert.equal(doc.paths['/v2/something/new'].post.operationId, 'somethingNew');
  assert.deepEqual(undocumented([...kserveRoutes(), extra]), [extra]);
  assert.deepEqual(undocumented(kserveRoutes()), []);
});

test('security follows the server: none without a key; the key and restricted headers when set', () => {
  const open = openApiDocument(kserveRoutes()) as any;
  assert.deepEqual(open.paths['/v2'].get.security, []);
  assert.equal(open.paths['/v2'].get.responses['401'], undefined);
  const keyed = openApiDocument(kserveRoutes(), { requiresKey: true, restricted: { 'model-repository': 'admin-key' } }) as any;
  assert.deepEqual(keyed.paths['/v2/health/ready'].get.security, []);
  assert.deepEqual(keyed.paths['/v2/repository/index'].post.security, [{ apiKey: [], 'restricted_model-repository': [] }]);
  assert.equal(keyed.components.securitySchemes['restricted_model-repository'].name, 'admin-key');
  assert.ok(keyed.paths['/v2/models/{model_name}/infer'].post.responses['401']);
});

test('the HTML page escapes what it shows', () => {
  const doc = openApiDocument([route('GET', '/v2/x', 'kserve', '<img src=x onerror=alert(1)>')]) as any;
  doc.info.description = '<script>alert(1)</script>';
  const html = renderHtml(doc);
  assert.doesNotMatch(html, /<script|<img/);
  assert.match(html, /&#60;script&#62;/);
});
