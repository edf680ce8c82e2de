import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ASSET_PREFIX, ConsoleSite } from './console.js';

const SETTINGS = { model_control_mode: 'none', generate_model: 'tiny_gpt' };
let dir: string;
let site: ConsoleSite;
let server: http.Server;
let base: string;
const big = 'x'.repeat(4096);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'duet-console-site-'));
  await mkdir(join(dir, 'assets', 'nested'), { recursive: true });
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>t</title>');
  await writeFile(join(dir, 'assets', 'app-1.js'), big);
  await writeFile(join(dir, 'assets', 'app-1.js.map'), '{}');
  await writeFile(join(dir, 'assets', 'nested', 'deep.js'), 'x');
  await writeFile(join(dir, 'secret.txt'), 'no');
  site = ConsoleSite.load(dir, SETTINGS)!;
  server = http.createServer((req, res) => {
    if (!site.serve(req, res)) res.writeHead(404).end('routes');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

test('only the page and the asset files of known types found at load are served; nothing else reaches the disk', async () => {
  assert.deepEqual(site.paths.sort(), ['/', `${ASSET_PREFIX}app-1.js`]);
  for (const path of ['/secret.txt', '/index.html', `${ASSET_PREFIX}app-1.js.map`, `${ASSET_PREFIX}nested/deep.js`, `${ASSET_PREFIX}../secret.txt`,
    `${ASSET_PREFIX}%2e%2e/secret.txt`, '/console/assets', '/v2']) {
    const r = await fetch(base + path);
    assert.equal(await r.text(), 'routes', path);
  }
  assert.equal((await fetch(`${base}/`, { method: 'POST' })).status, 404);
  assert.equal(ConsoleSite.load(join(dir, 'assets'), SETTINGS), undefined, 'no index.html: no console');
});

test('content types, caching, ETag and 304, HEAD, gzip computed once', async () => {
  const page = await fetch(`${base}/?from=link`);
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(page.headers.get('cache-control'), 'no-cache');
  assert.match(page.headers.get('content-security-policy')!, /script-src 'self'/);
  const raw = (path: string, headers: Record<string, string>, method = 'GET') => new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    http.request(base + path, { method, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c)).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }));
    }).on('error', reject).end();
  });
  const js = `${ASSET_PREFIX}app-1.js`;
  const a = await raw(js, { 'accept-encoding': 'br, gzip;q=0.5' });
  assert.equal(a.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(a.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.equal(a.headers['content-encoding'], 'gzip');
  assert.equal(gunzipSync(a.body).toString(), big);
  assert.equal(Number(a.headers['content-length']), a.body.byteLength);
  const again = await raw(js, { 'accept-encoding': 'gzip' });
  assert.deepEqual(again.body, a.body);
  const plain = await raw(js, { 'accept-encoding': 'gzip;q=0' });
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.body.toString(), big);
  const head = await raw(js, {}, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body.byteLength, 0);
  assert.equal(Number(head.headers['content-length']), big.length);
  const etag = a.headers.etag!;
  assert.equal((await raw(js, { 'if-none-match': `"other", ${etag}` })).status, 304);
  assert.equal((await raw(js, { 'if-none-match': '"other"' })).status, 200);
});
