// The client package as a user gets it: `npm pack`ed, installed with no network into a fresh project, used
// from strict TypeScript in Node (REST and gRPC) and, bundled for the browser, from headless Chromium
// (REST and gRPC-Web, across origins). Its dependencies come from this repository's node_modules, each
// packed into a tarball the fresh project names (file: specs and overrides), so the install reads no
// registry and no cache.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { ROOT, startTestServer } from './harness.js';
import type { RunningServer } from '../src/server.js';

const execFileP = promisify(execFile);
const CLIENT = join(ROOT, 'packages/client');
const bin = (name: string) => join(ROOT, 'node_modules/.bin', name);

interface Pkg {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
}

const readPkg = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Pkg;

/** Every package `names` need, as installed here: name -> folder (nested node_modules first, as Node resolves). */
function closure(names: string[], from: string): Map<string, string> {
  const found = new Map<string, string>();
  const visit = (name: string, parent: string) => {
    if (found.has(name)) return;
    const dir = [join(parent, 'node_modules', name), join(ROOT, 'node_modules', name)].find((d) => existsSync(join(d, 'package.json')));
    assert.ok(dir, `${name} (needed by ${parent}) is not installed in this repository`);
    found.set(name, dir);
    for (const dep of Object.keys(readPkg(dir).dependencies ?? {})) visit(dep, dir);
  };
  for (const n of names) visit(n, from);
  return found;
}

async function npm(args: string[], cwd: string, cache: string): Promise<string> {
  const { stdout } = await execFileP('npm', [...args, '--cache', cache, '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'],
    { cwd, env: { ...process.env, npm_config_registry: 'http://127.0.0.1:9/' }, maxBuffer: 16 << 20 });
  return stdout;
}

/** `npm pack` of a folder into `dest`: the tarball's file name. */
async function pack(dir: string, dest: string, cache: string): Promise<string> {
  const out = JSON.parse(await npm(['pack', dir, '--pack-destination', dest, '--json'], dest, cache)) as { filename: string }[];
  return out[0].filename.replace(/^@/, '').replace(/\//g, '-');
}

const CONSUMER = `import { GrpcClient, HttpClient, InferenceError, type InferenceClient, type InferInput } from 'duet-client';

const [rest, grpc] = process.argv.slice(2);
const clients: InferenceClient[] = [new HttpClient(rest), new GrpcClient(grpc)];
const a = Int32Array.from({ length: 16 }, (_, i) => i);
const inputs: InferInput[] = [
  { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a },
  { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: new Int32Array(16).fill(1) },
];
const out: Record<string, unknown> = {};
for (const c of clients) {
  const r = await c.infer('simple', inputs);
  const sum: Int32Array = r.output('OUTPUT0').typed() as Int32Array;
  const e: unknown = await c.getModelMetadata('no_such_model').catch((err: unknown) => err);
  out[c.protocol] = { sum: Array.from(sum), error: e instanceof InferenceError ? e.code : String(e), live: await c.isServerLive() };
  await c.close();
}
console.log(JSON.stringify(out));
`;

const TSCONFIG = {
  compilerOptions: {
    strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022',
    outDir: 'out', types: ['node'], skipLibCheck: false,
  },
  include: ['main.ts'],
};

/** In the page: infer `simple` over REST and over gRPC-Web (binary and text), and one error each. */
async function inBrowser(base: string) {
  const { HttpClient, GrpcWebClient, InferenceError } = (globalThis as unknown as { duet: typeof import('../packages/client/src/index.js') }).duet;
  const a = Int32Array.from({ length: 16 }, (_, i) => i);
  const inputs = [
    { name: 'INPUT0', datatype: 'INT32' as const, shape: [1, 16], data: a },
    { name: 'INPUT1', datatype: 'INT32' as const, shape: [1, 16], data: new Int32Array(16).fill(1) },
  ];
  const out: Record<string, unknown> = {};
  for (const [name, c] of [['http', new HttpClient(base)], ['grpc-web', new GrpcWebClient(base)], ['grpc-web-text', new GrpcWebClient(base, { mode: 'text' })]] as const) {
    const r = await c.infer('simple', inputs);
    const e: unknown = await c.getModelMetadata('no_such_model').catch((err: unknown) => err);
    out[name] = { sum: Array.from(r.output('OUTPUT0').typed() as Int32Array), error: e instanceof InferenceError ? e.code : String(e) };
  }
  return out;
}

describe('the duet-client package, packed and installed offline', () => {
  let dir: string;
  let project: string;
  let cache: string;
  const installed: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'duet-consumer-'));
    const tarballs = join(dir, 'tarballs');
    project = join(dir, 'project');
    cache = join(dir, 'cache');
    await Promise.all([mkdir(tarballs), mkdir(project)]);
    const client = await pack(CLIENT, tarballs, cache);
    const deps = closure([...Object.keys(readPkg(CLIENT).dependencies ?? {}), '@types/node'], CLIENT);
    const file = new Map<string, string>();
    for (const [name, d] of deps) file.set(name, `file:../tarballs/${await pack(d, tarballs, cache)}`);
    const types = file.get('@types/node')!;
    file.delete('@types/node');
    await writeFile(join(project, 'package.json'), JSON.stringify({
      name: 'duet-consumer', version: '1.0.0', private: true, type: 'module',
      dependencies: { 'duet-client': `file:../tarballs/${client}` },
      devDependencies: { '@types/node': types },
      overrides: Object.fromEntries(file),
    }, null, 2));
    await npm(['install', '--offline'], project, cache);
    for (const e of await readdir(join(project, 'node_modules'))) {
      if (e.startsWith('@')) for (const s of await readdir(join(project, 'node_modules', e))) installed.push(`${e}/${s}`);
      else if (!e.startsWith('.')) installed.push(e);
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('installs only what a client needs', () => {
    const deps = new Set(installed);
    for (const heavy of ['onnxruntime-node', '@opentelemetry/sdk-trace-base', 'tsx', '@grpc/grpc-js', 'prom-client']) {
      assert.ok(!deps.has(heavy), `${heavy} came with the client`);
    }
    assert.ok(deps.has('duet-client') && deps.has('protobufjs'), installed.join(', '));
  });

  describe('against a server', () => {
    let server: RunningServer;
    let page: http.Server;
    let pageOrigin: string;
    let bundle = '';

    before(async () => {
      page = http.createServer((req, res) => {
        if (req.url === '/client.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
        else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>duet-client</title><script type="module" src="/client.js"></script>');
      });
      await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
      pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
      server = await startTestServer(undefined, { corsAllowOrigins: [pageOrigin] });
    });
    after(async () => {
      await server.stop();
      await new Promise((resolve) => page.close(resolve));
    });

    test('a strict TypeScript project (module nodenext) compiles against its types and calls REST and gRPC', async () => {
      await writeFile(join(project, 'main.ts'), CONSUMER);
      await writeFile(join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG));
      await execFileP(bin('tsc'), ['-p', project]).catch((e: { stdout?: string }) => assert.fail(`tsc failed:\n${e.stdout}`));
      const { stdout } = await execFileP(process.execPath, [join(project, 'out/main.js'), `http://127.0.0.1:${server.http.port}`, `127.0.0.1:${server.grpc!.port}`]);
      const sum = Array.from({ length: 16 }, (_, i) => i + 1);
      assert.deepEqual(JSON.parse(stdout), {
        http: { sum, error: 'NOT_FOUND', live: true },
        grpc: { sum, error: 'NOT_FOUND', live: true },
      });
    });

    test('bundled for the browser (its browser entry), it infers in headless Chromium over REST and gRPC-Web', async () => {
      const built = await build({
        stdin: { contents: "import * as duet from 'duet-client'; globalThis.duet = duet;", resolveDir: project, loader: 'js' },
        bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent',
      });
      bundle = built.outputFiles[0].text;
      assert.doesNotMatch(bundle, /node:http2|@grpc\/grpc-js/);
      const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', timeout: 60_000 });
      try {
        const tab = await browser.newPage();
        await tab.goto(`${pageOrigin}/`);
        await tab.waitForFunction(() => 'duet' in globalThis, undefined, { timeout: 30_000 });
        const got = await tab.evaluate(inBrowser, `http://127.0.0.1:${server.http.port}`);
        const sum = Array.from({ length: 16 }, (_, i) => i + 1);
        assert.deepEqual(got, {
          http: { sum, error: 'NOT_FOUND' },
          'grpc-web': { sum, error: 'NOT_FOUND' },
          'grpc-web-text': { sum, error: 'NOT_FOUND' },
        });
      } finally {
        await browser.close();
      }
    });
  });
});
