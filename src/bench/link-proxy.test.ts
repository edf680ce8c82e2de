import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { LinkShaper, parseLink, startLinkProxy, transferMs } from './link-proxy.js';

test('the shaper delays every chunk by the latency when the bucket has tokens', () => {
  const s = new LinkShaper({ latencyMs: 10, rateBps: 8e6, burstBytes: 1000 }); // 1000 bytes per ms
  assert.equal(s.schedule(0, 500), 10);
  assert.equal(s.schedule(100, 1000), 110);
  assert.equal(s.schedule(200, 0), 210);
  const none = new LinkShaper({ latencyMs: 3, rateBps: Infinity });
  assert.equal(none.schedule(5, 10_000_000), 8);
});

test('the shaper caps the rate: a burst drains at the rate, order is kept, idle time refills the bucket', () => {
  const s = new LinkShaper({ latencyMs: 0, rateBps: 8e6, burstBytes: 1000 }); // 1 byte per µs
  // A full bucket sends 1000 bytes at once; the next 4000 leave at the rate: 4 ms later.
  assert.equal(s.schedule(0, 1000), 0);
  assert.equal(s.schedule(0, 4000), 4);
  // Queued behind it: 1000 more bytes leave 1 ms after the last.
  assert.equal(s.schedule(1, 1000), 5);
  // After 10 ms idle the bucket is full again (not fuller than its depth).
  assert.equal(s.schedule(15, 1000), 15);
  assert.equal(s.schedule(15, 1), 15.001);
  // Over a long run the delivered rate is the cap, whatever the chunking.
  const r = new LinkShaper({ latencyMs: 0, rateBps: 80e6, burstBytes: 16 * 1024 });
  let last = 0;
  for (let i = 0; i < 1000; i++) last = r.schedule(0, 10_000);
  assert.ok(Math.abs(last - (10_000_000 - 16 * 1024) / 10_000) < 1e-6, `10 MB at 10 MB/s after a 16 KiB burst: ${last} ms`);
  // Both latencies, and each direction's bytes beyond the first burst at the rate.
  assert.equal(transferMs({ latencyMs: 10, rateBps: 8e6, burstBytes: 1000 }, 1000, 3000), 22);
  assert.equal(transferMs({ latencyMs: 10, rateBps: 8e6 }, 1000, 3000), 20);
  assert.equal(transferMs({ latencyMs: 0, rateBps: Infinity }, 1e6, 1e6), 0);
  assert.throws(() => new LinkShaper({ latencyMs: -1, rateBps: 1 }), /latency must be >= 0 ms/);
  assert.throws(() => new LinkShaper({ latencyMs: 0, rateBps: 0 }), /rate must be > 0/);
});

test('--links parses LATENCYms/RATEunit and says what it expects', () => {
  assert.deepEqual(parseLink('10ms/100mbit'), { name: '10 ms / 100 Mbit/s', latencyMs: 10, rateBps: 100e6 });
  assert.deepEqual(parseLink(' 1 ms / 1 Gbit/s '), { name: '1 ms / 1 Gbit/s', latencyMs: 1, rateBps: 1e9 });
  assert.throws(() => parseLink('10ms'), /--links: '10ms' is not LATENCYms\/RATE\[k\|m\|g\]bit/);
});

/** A TCP server that answers each connection with a fixed blob after reading the client's whole upload. */
async function blobServer(reply: Buffer): Promise<{ port: number; received: Buffer[]; close(): Promise<void> }> {
  const received: Buffer[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => {
      received.push(Buffer.concat(parts));
      s.end(reply);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, received, close: () => new Promise((r) => server.close(() => r())) };
}

test('bytes pass unchanged both ways, half-close is carried after the delayed bytes, and the connection closes cleanly', async () => {
  const up = randomBytes(300_000);
  const down = randomBytes(700_000);
  const srv = await blobServer(down);
  const proxy = await startLinkProxy(`127.0.0.1:${srv.port}`, { name: 't', latencyMs: 5, rateBps: 400e6, burstBytes: 4096 });
  try {
    const got = await new Promise<Buffer>((resolve, reject) => {
      const c = net.connect({ host: '127.0.0.1', port: proxy.port, allowHalfOpen: true });
      const parts: Buffer[] = [];
      c.on('data', (d: Buffer) => parts.push(d));
      c.on('error', reject);
      c.on('end', () => resolve(Buffer.concat(parts)));
      c.end(up);
    });
    assert.ok(got.equals(down), 'server to client');
    assert.ok(srv.received[0].equals(up), 'client to server');
    assert.equal(proxy.stats.upBytes, up.byteLength);
    assert.equal(proxy.stats.downBytes, down.byteLength);
    assert.equal(proxy.stats.early, 0, 'no chunk was delivered before its time');
    for (let i = 0; i < 100 && proxy.open() > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(proxy.open(), 0, 'both sockets closed');
  } finally {
    await proxy.close();
    await srv.close();
  }
});

test('HTTP/1.1 keep-alive and HTTP/2 run through the link unchanged; a reset on one side resets the other', async () => {
  const body = randomBytes(100_000);
  const h1 = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => res.end(Buffer.concat(parts).reverse()));
  });
  const h2 = http2.createServer();
  h2.on('stream', (stream) => {
    const parts: Buffer[] = [];
    stream.on('data', (d: Buffer) => parts.push(d));
    stream.on('end', () => {
      stream.respond({ ':status': 200 });
      stream.end(Buffer.concat(parts).reverse());
    });
  });
  await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  const link = { name: 't', latencyMs: 1, rateBps: 1e9 };
  const p1 = await startLinkProxy(`127.0.0.1:${(h1.address() as net.AddressInfo).port}`, link);
  const p2 = await startLinkProxy(`127.0.0.1:${(h2.address() as net.AddressInfo).port}`, link);
  const expected = Buffer.from(body).reverse();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 3; i++) {
      const got = await new Promise<Buffer>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: p1.port, method: 'POST', path: '/', agent }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => resolve(Buffer.concat(parts)));
        });
        req.on('error', reject);
        req.end(body);
      });
      assert.ok(got.equals(expected), `HTTP/1.1 request ${i}`);
    }
    assert.equal(p1.stats.connections, 1, 'keep-alive: one connection through the link');
    const session = http2.connect(`http://${p2.address}`);
    const calls = Array.from({ length: 4 }, () => new Promise<Buffer>((resolve, reject) => {
      const s = session.request({ ':method': 'POST', ':path': '/' });
      const parts: Buffer[] = [];
      s.on('data', (d: Buffer) => parts.push(d));
      s.on('end', () => resolve(Buffer.concat(parts)));
      s.on('error', reject);
      s.end(body);
    }));
    for (const got of await Promise.all(calls)) assert.ok(got.equals(expected), 'HTTP/2 stream');
    session.close();
    assert.equal(p2.stats.connections, 1);
    assert.equal(p1.stats.early + p2.stats.early, 0);

    // A client that resets its connection: the server side is torn down too.
    const serverSide = new Promise<void>((resolve) => h1.once('connection', (s: net.Socket) => s.once('close', () => resolve())));
    const c = net.connect({ host: '127.0.0.1', port: p1.port });
    await new Promise((r) => c.once('connect', r));
    c.write('POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n12');
    await new Promise((r) => setTimeout(r, 30));
    c.resetAndDestroy();
    await serverSide;
  } finally {
    agent.destroy();
    await p1.close();
    await p2.close();
    h1.closeAllConnections();
    await new Promise((r) => h1.close(r));
    await new Promise((r) => h2.close(r));
  }
});
