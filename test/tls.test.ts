// TLS and mutual TLS on every listener, through the SDK over both protocols, with a throwaway CA made
// by openssl at test time; and the CLI's TLS flags (Triton's gRPC aliases, bad-flag errors).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import https from 'node:https';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GrpcClient, GrpcWebClient, HttpClient } from '../packages/client/src/node.js';
import type { ClientTls, InferenceClient } from '../packages/client/src/types.js';
import { startServer, type RunningServer } from '../src/server.js';
import type { TlsOptions } from '../src/core/tls.js';
import { tlsFromFlags } from '../src/cli/tls-flags.js';
import { scratchRepo } from './harness.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

const CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
subjectAltName = IP:127.0.0.1,DNS:localhost
extendedKeyUsage = serverAuth
[client]
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
`;

interface Pki {
  dir: string;
  /** File paths, for the CLI. */
  files: Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey' | 'rogueCert' | 'rogueKey', string>;
  ca: Buffer;
  server: { cert: Buffer; key: Buffer };
  client: { cert: Buffer; key: Buffer };
  /** A client certificate from a CA the server does not trust. */
  rogue: { cert: Buffer; key: Buffer };
}

/** A CA, a server certificate for 127.0.0.1/localhost, a client certificate, and one from a second CA. */
async function makePki(): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), 'duet-tls-'));
  const p = (n: string) => join(dir, n);
  await writeFile(p('openssl.cnf'), CNF);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = async (name: string) =>
    run('openssl', ['req', '-x509', '-config', p('openssl.cnf'), '-extensions', 'ca', ...ec, '-keyout', p(`${name}.key`), '-out', p(`${name}.crt`), '-days', '2', '-subj', `/CN=duet test ${name}`]);
  let serial = 1;
  const leaf = async (name: string, signer: string, ext: 'server' | 'client', cn: string) => {
    await run('openssl', ['req', '-new', '-config', p('openssl.cnf'), ...ec, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`]);
    await run('openssl', ['x509', '-req', '-in', p(`${name}.csr`), '-CA', p(`${signer}.crt`), '-CAkey', p(`${signer}.key`), '-set_serial', String(serial++),
      '-days', '2', '-extfile', p('openssl.cnf'), '-extensions', ext, '-out', p(`${name}.crt`)]);
  };
  await ca('ca');
  await ca('rogue-ca');
  await leaf('server', 'ca', 'server', 'localhost');
  await leaf('client', 'ca', 'client', 'duet test client');
  await leaf('rogue', 'rogue-ca', 'client', 'duet test rogue client');
  const files = {
    ca: p('ca.crt'), serverCert: p('server.crt'), serverKey: p('server.key'),
    clientCert: p('client.crt'), clientKey: p('client.key'), rogueCert: p('rogue.crt'), rogueKey: p('rogue.key'),
  };
  const r = (f: string) => readFile(f);
  return {
    dir, files, ca: await r(files.ca),
    server: { cert: await r(files.serverCert), key: await r(files.serverKey) },
    client: { cert: await r(files.clientCert), key: await r(files.clientKey) },
    rogue: { cert: await r(files.rogueCert), key: await r(files.rogueKey) },
  };
}

let pki: Pki;
let repo: Awaited<ReturnType<typeof scratchRepo>>;
before(async () => {
  pki = await makePki();
  repo = await scratchRepo(['simple']);
});
after(async () => {
  await rm(pki.dir, { recursive: true, force: true });
  await repo.cleanup();
});

const start = (tls: TlsOptions, grpcTls?: TlsOptions | null) =>
  startServer({ modelRepository: repo.dir, host: '127.0.0.1', httpPort: 0, grpcPort: 0, metricsPort: 0, tls, grpcTls });

/** An SDK client of the given protocol; `tls` absent means plaintext. */
function client(proto: 'http' | 'grpc' | 'grpc-web', s: RunningServer, tls?: ClientTls, host = '127.0.0.1'): InferenceClient {
  const rest = `${tls ? 'https' : 'http'}://${host}:${s.http.port}`;
  if (proto === 'http') return new HttpClient(rest, { tls });
  if (proto === 'grpc-web') return new GrpcWebClient(rest, { tls, timeoutMs: 10_000 });
  return new GrpcClient(`${host}:${s.grpc!.port}`, { tls, timeoutMs: 10_000 });
}

const int32 = (name: string, v: number[]) => ({ name, datatype: 'INT32' as const, shape: [1, 16], data: Int32Array.from(v) });

/** One inference on `simple`, checked. */
async function inferSimple(c: InferenceClient): Promise<void> {
  const a = Array.from({ length: 16 }, (_, i) => i);
  const r = await c.infer('simple', [int32('INPUT0', a), int32('INPUT1', a.map(() => 1))]);
  assert.deepEqual(Array.from(r.output('OUTPUT0').typed() as Int32Array), a.map((x) => x + 1));
}

/** The connection is refused: gRPC says UNAVAILABLE; REST fails with a socket or TLS error, never an HTTP answer. */
async function refused(c: InferenceClient): Promise<void> {
  const e = await c.isServerLive().then(() => assert.fail('the call succeeded'), (e: unknown) => e as { code?: string; message: string });
  assert.equal(e.code, 'UNAVAILABLE', e.message);
}

/** Runs fn with a client and closes it. */
async function using<T>(c: InferenceClient, fn: (c: InferenceClient) => Promise<T>): Promise<T> {
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

/** GET /metrics over HTTPS with the given client TLS options. */
function getMetrics(port: number, tls: Pick<https.RequestOptions, 'ca' | 'cert' | 'key'>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/metrics', agent: false, ...tls }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

for (const proto of ['http', 'grpc', 'grpc-web'] as const) {
  describe(`TLS over ${proto}`, () => {
    let server: RunningServer;
    before(async () => {
      server = await start({ cert: pki.server.cert, key: pki.server.key });
    });
    after(() => server.stop());

    test('a client that trusts the CA infers, by IP and by name', async () => {
      await using(client(proto, server, { ca: pki.ca }), async (c) => {
        assert.equal(await c.isServerReady(), true);
        await inferSimple(c);
      });
      await using(client(proto, server, { ca: pki.ca }, 'localhost'), (c) => inferSimple(c));
    });

    test('a client that does not trust the CA is refused', async () => {
      await using(client(proto, server, { ca: pki.rogue.cert }), async (c) => {
        await refused(c);
      });
    });

    test('a plaintext client fails cleanly and the server stays up', async () => {
      await using(client(proto, server), async (c) => {
        await refused(c);
      });
      await using(client(proto, server, { ca: pki.ca }), (c) => inferSimple(c));
    });
  });

  describe(`mutual TLS over ${proto}`, () => {
    let server: RunningServer;
    before(async () => {
      server = await start({ cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca });
    });
    after(() => server.stop());

    test('a client with a certificate from the client CA infers', async () => {
      await using(client(proto, server, { ca: pki.ca, ...pki.client }), async (c) => {
        assert.equal(await c.isServerLive(), true);
        await inferSimple(c);
      });
    });

    test('a client without a certificate, or with one from another CA, is refused at the handshake', async () => {
      for (const tls of [{ ca: pki.ca }, { ca: pki.ca, ...pki.rogue }]) {
        await using(client(proto, server, tls), async (c) => {
          await refused(c);
        });
      }
      await using(client(proto, server), async (c) => {
        await refused(c);
      });
      // Still serving the clients it should.
      await using(client(proto, server, { ca: pki.ca, ...pki.client }), (c) => inferSimple(c));
    });
  });
}

describe('TLS on the metrics port and per-listener settings', () => {
  test('metrics over https, with mutual TLS', async () => {
    const server = await start({ cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca });
    try {
      const port = server.metrics!.port;
      const ok = await getMetrics(port, { ca: pki.ca, ...pki.client });
      assert.equal(ok.status, 200);
      assert.match(ok.body, /nv_inference_request_success/);
      await assert.rejects(getMetrics(port, { ca: pki.ca }));
    } finally {
      await server.stop();
    }
  });

  test('grpcTls null keeps gRPC plaintext while REST is HTTPS; grpcTls alone sets gRPC apart', async () => {
    const plainGrpc = await start({ cert: pki.server.cert, key: pki.server.key }, null);
    try {
      await using(client('grpc', plainGrpc), (c) => inferSimple(c));
      await using(client('http', plainGrpc, { ca: pki.ca }), (c) => inferSimple(c));
    } finally {
      await plainGrpc.stop();
    }
    const mutualGrpc = await start({ cert: pki.server.cert, key: pki.server.key }, { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca });
    try {
      await using(client('grpc', mutualGrpc, { ca: pki.ca }), async (c) => {
        await refused(c);
      });
      await using(client('grpc', mutualGrpc, { ca: pki.ca, ...pki.client }), (c) => inferSimple(c));
      await using(client('http', mutualGrpc, { ca: pki.ca }), (c) => inferSimple(c));
    } finally {
      await mutualGrpc.stop();
    }
  });

  test('startServer names the option whose PEM is bad', async () => {
    await assert.rejects(start({ cert: 'not a certificate', key: pki.server.key }), /tls\.cert is not a PEM-encoded certificate/);
    await assert.rejects(start({ cert: pki.server.cert, key: pki.client.key }), /tls\.key is not the private key of the certificate in tls\.cert/);
    await assert.rejects(start({ cert: pki.server.cert, key: pki.server.key }, { cert: pki.server.cert, key: pki.server.key, clientCa: 'nope' }),
      /grpcTls\.clientCa is not a PEM-encoded CA certificate/);
  });

  test('the SDK refuses a tls option with an http:// URL', () => {
    assert.throws(() => new HttpClient('http://127.0.0.1:1', { tls: { ca: pki.ca } }), /tls option needs an https:\/\/ URL/);
  });
});

describe('TLS flags', () => {
  const f = () => pki.files;

  test('--tls-* configure every listener; Triton\'s --grpc-* flags configure gRPC and fall back to --tls-*', () => {
    const all = tlsFromFlags({ 'tls-cert': f().serverCert, 'tls-key': f().serverKey, 'tls-client-ca': f().ca });
    assert.ok(all.tls?.clientCa);
    assert.equal(all.grpcTls, undefined);

    const aliases = tlsFromFlags({ 'grpc-use-ssl': 'true', 'grpc-server-cert': f().serverCert, 'grpc-server-key': f().serverKey });
    assert.equal(aliases.tls, undefined);
    assert.ok(aliases.grpcTls && aliases.grpcTls.clientCa === undefined);

    // Triton: --grpc-use-ssl-mutual turns SSL on by itself; --grpc-root-cert is the client CA.
    const mutual = tlsFromFlags({ 'grpc-use-ssl-mutual': '1', 'grpc-server-cert': f().serverCert, 'grpc-server-key': f().serverKey, 'grpc-root-cert': f().ca });
    assert.ok(mutual.grpcTls?.clientCa);

    const fallback = tlsFromFlags({ 'tls-cert': f().serverCert, 'tls-key': f().serverKey, 'grpc-use-ssl-mutual': 'on', 'grpc-root-cert': f().ca });
    assert.equal(fallback.tls?.clientCa, undefined);
    assert.ok(fallback.grpcTls?.clientCa);

    const off = tlsFromFlags({ 'tls-cert': f().serverCert, 'tls-key': f().serverKey, 'grpc-use-ssl': 'false' });
    assert.ok(off.tls);
    assert.equal(off.grpcTls, null);

    const ignored = tlsFromFlags({ 'grpc-server-cert': f().serverCert, 'grpc-server-key': f().serverKey });
    assert.equal(ignored.grpcTls, null);
    assert.match(ignored.warnings.join('\n'), /--grpc-server-cert, --grpc-server-key ignored/);
  });

  test('a file that is not what its flag needs is named', () => {
    assert.throws(() => tlsFromFlags({ 'tls-cert': f().serverKey, 'tls-key': f().serverKey }), /--tls-cert '.*server\.key' is not a PEM-encoded certificate/);
    assert.throws(() => tlsFromFlags({ 'tls-cert': f().serverCert, 'tls-key': f().clientKey }), /--tls-key '.*client\.key' is not the private key of the certificate in --tls-cert/);
    assert.throws(() => tlsFromFlags({ 'grpc-use-ssl-mutual': 'true', 'grpc-server-cert': f().serverCert, 'grpc-server-key': f().serverKey, 'grpc-root-cert': f().serverKey }),
      /--grpc-root-cert '.*server\.key' is not a PEM-encoded CA certificate/);
  });

  test('duet serve: --tls-* for REST and metrics, Triton\'s aliases for gRPC, a clear exit 2 for a bad flag', async () => {
    // Bad flags: exit 2, the flag named, no stack trace.
    for (const [args, re] of [
      [['--tls-cert', f().serverCert], /--tls-cert needs --tls-key/],
      [['--tls-cert', join(pki.dir, 'missing.pem'), '--tls-key', f().serverKey], /--tls-cert: cannot read '.*missing\.pem'/],
      [['--grpc-use-ssl', 'yes'], /--grpc-use-ssl must be true or false/],
    ] as const) {
      const r = await runCli([...args], 20_000);
      assert.equal(r.code, 2, `${args.join(' ')}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      assert.match(r.stderr, re);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }

    const child = spawn(process.execPath, [CLI, 'serve', '--model-repository', repo.dir, '--host', '127.0.0.1',
      '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0',
      '--tls-cert', f().serverCert, '--tls-key', f().serverKey,
      '--grpc-use-ssl', 'true', '--grpc-use-ssl-mutual', 'true', '--grpc-server-cert', f().serverCert, '--grpc-server-key', f().serverKey, '--grpc-root-cert', f().ca,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (!/gRPC .* listening/.test(stdout) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const rest = /REST \(KServe v2\) listening on https:\/\/127\.0\.0\.1:(\d+) \(TLS\)/.exec(stdout);
      const grpc = /gRPC .* listening on 127\.0\.0\.1:(\d+) \(mutual TLS: client certificates required\)/.exec(stdout);
      assert.ok(rest && grpc, stdout);
      assert.match(stdout, /Prometheus metrics at https:\/\/127\.0\.0\.1:\d+\/metrics \(TLS\)/);
      assert.doesNotMatch(stdout, /BEGIN|PRIVATE KEY/);
      const s = { http: { port: Number(rest[1]) }, grpc: { port: Number(grpc[1]) } } as RunningServer;
      await using(client('http', s, { ca: pki.ca }), (c) => inferSimple(c));
      await using(client('grpc', s, { ca: pki.ca, ...pki.client }), (c) => inferSimple(c));
      await using(client('grpc', s, { ca: pki.ca }), async (c) => {
        await refused(c);
      });
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

/** Runs the CLI to its exit (killed after ms). */
function runCli(args: string[], ms: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'serve', '--model-repository', repo.dir, '--host', '127.0.0.1', '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
