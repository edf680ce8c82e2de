import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ALLOWED_REQUEST_HEADERS, EXPOSED_HEADERS, OriginPolicy, parseAllowedOrigin } from './cors.js';

const local = { host: '127.0.0.1:8000', scheme: 'http' as const };

describe('--cors-allow-origin values', () => {
  test('origins are normalized as browsers send them; * stays', () => {
    assert.equal(parseAllowedOrigin('*'), '*');
    assert.equal(parseAllowedOrigin('https://App.Example.com/'), 'https://app.example.com');
    assert.equal(parseAllowedOrigin('https://app.example.com:443'), 'https://app.example.com');
    assert.equal(parseAllowedOrigin('http://localhost:3000'), 'http://localhost:3000');
  });

  test('anything but scheme://host[:port] is refused, naming the flag', () => {
    for (const bad of ['app.example.com', 'https://app.example.com/path', 'https://app.example.com?x=1', 'https://u:p@app.example.com', 'null', '']) {
      assert.throws(() => parseAllowedOrigin(bad), /--cors-allow-origin/, bad);
    }
  });
});

describe('origin decisions', () => {
  const none = new OriginPolicy();

  test('no Origin (curl, tritonclient, the SDK): allowed, and no CORS headers without the flag', () => {
    assert.deepEqual(none.check({ ...local }), { headers: {} });
    assert.deepEqual(none.check({ ...local, secFetchSite: 'none' }), { headers: {} });
    assert.deepEqual(none.check({ ...local, secFetchSite: 'same-origin' }), { headers: {} });
  });

  test('same origin (scheme://Host, default ports normalized) is allowed', () => {
    assert.equal(none.check({ ...local, origin: 'http://127.0.0.1:8000' }).error, undefined);
    assert.equal(none.check({ host: 'models.example', scheme: 'https', origin: 'https://models.example:443' }).error, undefined);
    assert.equal(none.check({ host: 'models.example:80', scheme: 'http', origin: 'http://models.example' }).error, undefined);
  });

  test('another origin, another scheme or port, null, or a cross-site fetch without Origin: 403 naming the origin and the flag', () => {
    for (const origin of ['https://evil.example', 'https://127.0.0.1:8000', 'http://127.0.0.1:8001', 'null']) {
      const d = none.check({ ...local, origin });
      assert.equal(d.error?.code, 'PERMISSION_DENIED', origin);
      assert.equal(d.error?.httpStatus, 403);
      assert.match(d.error!.message, new RegExp(`'${origin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'.*--cors-allow-origin`));
      assert.deepEqual(d.headers, {});
    }
    const d = none.check({ ...local, secFetchSite: 'cross-site' });
    assert.match(d.error!.message, /Sec-Fetch-Site: cross-site.*--cors-allow-origin/);
    // A page that claims to be same-origin but is cross-site by the browser's own account is refused.
    assert.ok(none.check({ ...local, origin: 'http://127.0.0.1:8000', secFetchSite: 'cross-site' }).error);
  });

  test('an allowed origin gets CORS headers with Vary; others are still refused', () => {
    const p = new OriginPolicy(['https://app.example', 'http://localhost:3000/']);
    const d = p.check({ ...local, origin: 'https://app.example', secFetchSite: 'cross-site' });
    assert.equal(d.error, undefined);
    assert.equal(d.headers['access-control-allow-origin'], 'https://app.example');
    assert.equal(d.headers.vary, 'Origin');
    assert.deepEqual(d.headers['access-control-expose-headers'].split(', '), EXPOSED_HEADERS);
    assert.ok(EXPOSED_HEADERS.includes('grpc-status') && EXPOSED_HEADERS.includes('inference-header-content-length'));
    assert.equal(p.check({ ...local, origin: 'http://localhost:3000' }).error, undefined);
    assert.ok(p.check({ ...local, origin: 'https://evil.example' }).error);
    // With CORS on, every answer varies by Origin (caches), even one to a request without it.
    assert.deepEqual(p.check({ ...local }).headers, { vary: 'Origin' });
  });

  test('* allows any origin, null included, and cross-site fetches without Origin', () => {
    const p = new OriginPolicy(['*']);
    assert.equal(p.check({ ...local, origin: 'https://anything.example' }).headers['access-control-allow-origin'], 'https://anything.example');
    assert.equal(p.check({ ...local, origin: 'null' }).error, undefined);
    assert.equal(p.check({ ...local, secFetchSite: 'cross-site' }).error, undefined);
  });

  test('preflight answers list the methods and the request headers a browser client needs, plus extras', () => {
    const p = new OriginPolicy(['https://app.example']);
    const h = p.preflightHeaders(p.check({ ...local, origin: 'https://app.example' }), ['admin-key', 'authorization']);
    assert.equal(h['access-control-allow-origin'], 'https://app.example');
    assert.equal(h['access-control-allow-methods'], 'GET, HEAD, POST, OPTIONS');
    const allowed = h['access-control-allow-headers'].split(', ');
    for (const name of [...ALLOWED_REQUEST_HEADERS, 'admin-key']) assert.ok(allowed.includes(name), name);
    assert.equal(allowed.filter((n) => n === 'authorization').length, 1);
    for (const name of ['authorization', 'content-type', 'content-encoding', 'inference-header-content-length', 'traceparent', 'tracestate', 'x-grpc-web', 'x-user-agent', 'grpc-timeout']) {
      assert.ok(allowed.includes(name), name);
    }
    assert.ok(Number(h['access-control-max-age']) > 0);
  });
});
