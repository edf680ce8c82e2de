// Browsers and the REST port: a page on another site can neither use nor change the server unless
// --cors-allow-origin allows its origin (CSRF), same-origin pages and clients without Origin (curl,
// tritonclient, the SDK) are unaffected, and allowed origins get CORS answers. REST only: browsers
// reach gRPC through gRPC-Web, whose front-end applies the same policy (src/security/cors.ts).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { HttpClient, type HttpResponse } from '../packages/client/src/node.js';
import type { RunningServer } from '../src/server.js';
import { EXPLICIT, scratchRepo, startTestServer } from './harness.js';

const EVIL = 'https://evil.example';
const APP = 'https://app.example';
const errorOf = (r: HttpResponse) => (JSON.parse(r.text) as { error: string }).error;
const corsHeaders = (r: HttpResponse) => Object.keys(r.headers).filter((h) => h.startsWith('access-control-'));
const form = { 'content-type': 'application/x-www-form-urlencoded' };

let repo: { dir: string; cleanup: () => Promise<void> };
before(async () => {
  repo = await scratchRepo(['my_model', 'identity_fp32']);
});
after(() => repo.cleanup());

describe('without --cors-allow-origin', () => {
  let server: RunningServer;
  let c: HttpClient;
  before(async () => {
    // Explicit model control, where load and unload are open: only the origin check stands in the way.
    server = await startTestServer(repo.dir, EXPLICIT);
    c = new HttpClient(`127.0.0.1:${server.http.port}`);
  });
  after(async () => {
    await c.close();
    await server.stop();
  });

  const index = async () => JSON.parse((await c.request('POST', '/v2/repository/index')).text) as unknown[];

  test('regression: a cross-site load or unload from a web page is 403 and changes nothing', async () => {
    const before = await index();
    // What a page's fetch(..., {method: 'POST', mode: 'no-cors', body}) sends: a simple request, no preflight.
    const config = JSON.stringify({ backend: 'typescript', default_model_filename: '../../../../tmp/x/evil.mjs' });
    const load = await c.request('POST', '/v2/repository/models/x/load', Buffer.from(JSON.stringify({ parameters: { config } })),
      { origin: EVIL, 'sec-fetch-site': 'cross-site', 'content-type': 'text/plain;charset=UTF-8' });
    assert.equal(load.status, 403);
    assert.match(errorOf(load), /cross-origin request from 'https:\/\/evil\.example' refused.*--cors-allow-origin/);
    assert.deepEqual(corsHeaders(load), []);
    const unload = await c.request('POST', '/v2/repository/models/my_model/unload', Buffer.alloc(0), { origin: EVIL });
    assert.equal(unload.status, 403);
    assert.deepEqual(await index(), before);
    assert.equal((await c.request('GET', '/v2/models/my_model/ready')).status, 200);
  });

  test('the refusal comes before the body is read', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const s = net.connect(server.http.port, '127.0.0.1', () => s.write(
        `POST /v2/repository/models/my_model/unload HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: ${EVIL}\r\nContent-Length: 1000000\r\n\r\n`));
      let text = '';
      const timer = setTimeout(() => s.destroy(), 2500);
      s.setEncoding('latin1').on('data', (d: string) => (text += d));
      s.on('close', () => {
        clearTimeout(timer);
        resolve(text);
      });
      s.on('error', reject);
    });
    assert.match(reply, /^HTTP\/1\.1 403 /);
  });

  test('a cross-site fetch without Origin (Sec-Fetch-Site) and any preflight are refused', async () => {
    const r = await c.request('GET', '/v2/models/my_model', undefined, { 'sec-fetch-site': 'cross-site' });
    assert.equal(r.status, 403);
    assert.match(errorOf(r), /Sec-Fetch-Site: cross-site.*--cors-allow-origin/);
    const pre = await c.request('OPTIONS', '/v2/models/my_model/infer', undefined, { origin: EVIL, 'access-control-request-method': 'POST' });
    assert.equal(pre.status, 403);
    assert.deepEqual(corsHeaders(pre), []);
  });

  test('same-origin pages are served, without CORS headers', async () => {
    const r = await c.request('GET', '/v2/models/my_model', undefined, { origin: `http://127.0.0.1:${server.http.port}`, 'sec-fetch-site': 'same-origin' });
    assert.equal(r.status, 200);
    assert.deepEqual(corsHeaders(r), []);
    assert.equal(r.headers.vary, undefined);
  });

  test('clients without Origin are unaffected: curl -d with its form content type still works, as on Triton', async () => {
    const idx = await c.request('POST', '/v2/repository/index', Buffer.from('{}'), form);
    assert.equal(idx.status, 200);
    const body = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], data: Array(128).fill(1) }] });
    const inf = await c.request('POST', '/v2/models/my_model/infer', Buffer.from(body), form);
    assert.equal(inf.status, 200, inf.text);
    assert.deepEqual(corsHeaders(inf), []);
  });
});

describe('with --cors-allow-origin and an API key', () => {
  const KEY = randomBytes(16).toString('hex');
  let server: RunningServer;
  let c: HttpClient;
  before(async () => {
    server = await startTestServer(repo.dir, { corsAllowOrigins: [APP], apiKey: KEY, httpRestrictedApis: { 'model-repository': { header: 'admin-key', value: 'a' } } });
    c = new HttpClient(`127.0.0.1:${server.http.port}`);
  });
  after(async () => {
    await c.close();
    await server.stop();
  });

  test('a preflight from an allowed origin is answered 204, without the key, listing methods and headers', async () => {
    const r = await c.request('OPTIONS', '/v2/models/my_model/infer', undefined,
      { origin: APP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' });
    assert.equal(r.status, 204);
    assert.equal(r.headers['access-control-allow-origin'], APP);
    assert.match(String(r.headers.vary), /Origin/);
    assert.match(String(r.headers['access-control-allow-methods']), /\bPOST\b/);
    const allowed = String(r.headers['access-control-allow-headers']).split(', ');
    for (const h of ['authorization', 'content-type', 'content-encoding', 'inference-header-content-length', 'traceparent', 'tracestate', 'x-grpc-web', 'x-user-agent', 'grpc-timeout', 'admin-key']) {
      assert.ok(allowed.includes(h), h);
    }
    assert.equal(r.body.byteLength, 0);
  });

  test('answers to an allowed origin carry Allow-Origin, Vary and the exposed headers, errors included', async () => {
    // A JSON answer large enough to be compressed: Vary names both Origin and Accept-Encoding.
    const body = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 512], data: Array(512).fill(0.5) }] });
    const ok = await c.request('POST', '/v2/models/identity_fp32/infer', Buffer.from(body),
      { origin: APP, authorization: `Bearer ${KEY}`, 'accept-encoding': 'gzip', 'content-type': 'application/json' });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers['access-control-allow-origin'], APP);
    assert.equal(ok.headers['content-encoding'], 'gzip');
    assert.deepEqual(String(ok.headers.vary).split(/,\s*/).sort(), ['Accept-Encoding', 'Origin']);
    const exposed = String(ok.headers['access-control-expose-headers']).split(', ');
    for (const h of ['grpc-status', 'grpc-message', 'grpc-status-details-bin', 'inference-header-content-length']) assert.ok(exposed.includes(h), h);
    // The page can read why it was refused.
    const noKey = await c.request('GET', '/v2/models/my_model', undefined, { origin: APP });
    assert.equal(noKey.status, 401);
    assert.equal(noKey.headers['access-control-allow-origin'], APP);
  });

  test('other origins are still refused, with or without the key', async () => {
    const r = await c.request('POST', '/v2/repository/models/my_model/unload', Buffer.alloc(0), { origin: EVIL, authorization: `Bearer ${KEY}`, 'admin-key': 'a' });
    assert.equal(r.status, 403);
    assert.match(errorOf(r), /evil\.example/);
    const pre = await c.request('OPTIONS', '/v2/models/my_model/infer', undefined, { origin: EVIL, 'access-control-request-method': 'POST' });
    assert.equal(pre.status, 403);
    assert.equal((await c.request('GET', '/v2/models/my_model/ready', undefined, { authorization: `Bearer ${KEY}` })).status, 200);
  });
});
