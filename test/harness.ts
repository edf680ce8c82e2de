// Behaviour tests start a real server on ephemeral ports and talk to it through the SDK, once per protocol.

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpClient } from '../packages/client/src/node.js';
import { GrpcClient } from '../packages/client/src/grpc.js';
import { GrpcWebClient } from '../packages/client/src/grpc-web.js';
import type { InferenceClient } from '../packages/client/src/types.js';
import { InferenceError } from '../src/core/errors.js';
import { startServer, type RunningServer, type ServerOptions } from '../src/server.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MODELS = join(ROOT, 'models');

/** SDK options every protocol's client takes: an API key and extra headers (gRPC metadata). */
export interface ClientAuth {
  token?: string;
  headers?: Record<string, string>;
}

export interface Protocol {
  name: 'http' | 'grpc' | 'grpc-web';
  client(server: RunningServer, auth?: ClientAuth): InferenceClient;
}

/** Every protocol a behaviour test runs over. */
export const PROTOCOLS: Protocol[] = [
  { name: 'http', client: (s, auth) => new HttpClient(`127.0.0.1:${s.http.port}`, auth) },
  { name: 'grpc', client: (s, auth) => new GrpcClient(`127.0.0.1:${s.grpc!.port}`, auth) },
  // The REST port, HTTP/1.1: where browsers call.
  { name: 'grpc-web', client: (s, auth) => new GrpcWebClient(baseUrl(s), auth) },
];

/**
 * gRPC-Web carries the gRPC service itself: the same metadata (Triton's `triton-grpc-protocol-` headers), status
 * codes and messages as gRPC, so tests that check a gRPC detail check it for both.
 */
export const speaksGrpc = (p: Protocol) => p.name === 'grpc' || p.name === 'grpc-web';

/** Options for a test server; e.g. `{ modelControlMode: 'explicit', loadModels: ['*'] }` where a test loads and unloads. */
export type TestServerOptions = Partial<Omit<ServerOptions, 'modelRepository'>>;

/** Model control as tests that load and unload need it: explicit, with every model loaded at start. */
export const EXPLICIT: TestServerOptions = { modelControlMode: 'explicit', loadModels: ['*'] };

export async function startTestServer(modelRepository: string | string[] = MODELS, opts: TestServerOptions = {}): Promise<RunningServer> {
  return startServer({ modelRepository, host: '127.0.0.1', httpPort: 0, grpcPort: 0, metricsPort: 0, ...opts });
}

/** A scratch model repository holding copies of the named example models. */
export async function scratchRepo(models: string[] = []): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'duet-repo-'));
  for (const m of models) await cp(join(MODELS, m), join(dir, m), { recursive: true });
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A config.pbtxt's text without its one-line `dynamic_batching { ... }` block, so a test can set its own. */
export const withoutBatching = (pbtxt: string) => pbtxt.replace(/^dynamic_batching \{[^\n]*\}\n?/m, '');

/** The raw-HTTP base URL of a running server, for tests of the wire itself. */
export const baseUrl = (s: RunningServer) => `http://127.0.0.1:${s.http.port}`;

/**
 * Inside a describe block: a server over a scratch repository holding copies of `models`, and a client of
 * `proto`, started before the block's tests and stopped after them.
 */
export function serveScratch(models: string[], opts: TestServerOptions, proto: Protocol) {
  const s = {} as { repo: Awaited<ReturnType<typeof scratchRepo>>; server: RunningServer; c: InferenceClient };
  before(async () => {
    s.repo = await scratchRepo(models);
    s.server = await startTestServer(s.repo.dir, opts);
    s.c = proto.client(s.server);
  });
  after(async () => {
    await s.c?.close();
    await s.server?.stop();
    await s.repo?.cleanup();
  });
  return s;
}

/** Inside a describe block: a client of `proto` to the server `server()` returns, made before the block's tests, closed after. */
export function clientFor(proto: Protocol, server: () => RunningServer): { c: InferenceClient } {
  const s = {} as { c: InferenceClient };
  before(() => {
    s.c = proto.client(server());
  });
  after(() => s.c?.close());
  return s;
}

/** The InferenceError a promise rejects with (fails the test if it resolves). */
export async function failure(p: Promise<unknown>): Promise<InferenceError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof InferenceError, `expected an InferenceError, got ${String(e)}`);
    return e;
  }
  assert.fail('the call succeeded; it should have failed');
}

/** Every item of an async iterable (a stream read to its end). */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
