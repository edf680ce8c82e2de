import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { HttpError, readBody } from './body.js';

/** A server answering each body's length and first and last byte, or the refusal's status and message. */
async function withServer(fn: (port: number) => Promise<void>): Promise<void> {
  const server = http.createServer(async (req, res) => {
    try {
      const b = await readBody(req, { maxBytes: 1 << 20, idleMs: 5_000 });
      res.end(`${b.byteLength} ${b[0]} ${b[b.byteLength - 1]}`);
    } catch (e) {
      res.statusCode = e instanceof HttpError ? e.status : 500;
      res.end((e as Error).message);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

/** Writes `parts` to one connection (each after the previous answer is complete, when asked) and collects what comes back. */
function exchange(port: number, parts: Buffer[], answers: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const bodies = () => text.split('HTTP/1.1 ').slice(1).map((r) => r.slice(r.indexOf('\r\n\r\n') + 4));
    socket.on('data', (d) => {
      text += d.toString('latin1');
      const done = bodies();
      const last = done[done.length - 1] ?? '';
      if (done.length === answers && /^\d+ \d+ \d+$|^request body/.test(last)) {
        socket.end();
        resolve(done);
      }
    });
    socket.on('error', reject);
    let i = 0;
    const next = () => {
      if (i < parts.length) socket.write(parts[i++], () => setImmediate(next));
    };
    next();
  });
}

const head = (length: number) => Buffer.from(`POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: ${length}\r\n\r\n`);
const bytes = (n: number, first: number) => Buffer.from(Array.from({ length: n }, (_, i) => (first + i) % 256));

test('small bodies are read whole whether they arrive with their headers or after them', async () => {
  await withServer(async (port) => {
    // Two keep-alive requests in one packet each, then one whose body comes in two later writes.
    const one = Buffer.concat([head(600), bytes(600, 7)]);
    const two = Buffer.concat([head(3), bytes(3, 200)]);
    assert.deepEqual(await exchange(port, [one], 1), ['600 7 94']);
    assert.deepEqual(await exchange(port, [Buffer.concat([one, two])], 2), ['600 7 94', '3 200 202']);
    assert.deepEqual(await exchange(port, [head(500), bytes(200, 1), bytes(300, 201)], 1), ['500 1 244']);
  });
});

test('a small body cut short by the client is refused, not taken', async () => {
  await withServer(async (port) => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (d) => (text += d.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      // Half the body, then the client stops writing: the server must not answer with what it has.
      socket.end(Buffer.concat([head(100), bytes(50, 0)]));
    });
    assert.doesNotMatch(answer, /^HTTP\/1\.1 200/);
  });
});
