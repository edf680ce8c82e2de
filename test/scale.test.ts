// Replicas behind a real balancer (issue 13 item 5): three `duet serve` child processes and Debian's
// haproxy (started here, config in a temp dir) on 127.0.0.1. Shows that one gRPC connection spreads over
// every replica, that SIGTERM under load loses nothing (readiness drains first, haproxy retries connection
// failures), that SIGKILL under load costs at most the requests in flight then, and that a replica added
// under load gets traffic once ready. Loads are counted and bounded; `npm run test:scale` runs it alone.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcClient, HttpClient } from '../packages/client/src/node.js';
import type { InferenceClient } from '../packages/client/src/types.js';
import { Cli, killAll } from './cli-process.js';
import { freePort, HAProxy, haproxyConfig, type Backend } from './deploy/haproxy.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `work`: answers with the pid of the replica that ran it, after DELAY ms, so requests overlap. */
async function writeWorkModel(dir: string): Promise<void> {
  await mkdir(join(dir, 'work', '1'), { recursive: true });
  await writeFile(join(dir, 'work', 'config.pbtxt'), `name: "work"
backend: "typescript"
max_batch_size: 0
input [ { name: "DELAY", data_type: TYPE_INT32, dims: [ 1 ] } ]
output [ { name: "PID", data_type: TYPE_INT32, dims: [ 1 ] } ]
instance_group [ { count: 2, kind: KIND_CPU } ]
`);
  await writeFile(join(dir, 'work', '1', 'model.mjs'), `
export default class Work {
  async execute(requests) {
    return Promise.all(requests.map(async (r) => {
      await new Promise((res) => setTimeout(res, r.inputs.DELAY.typed()[0]));
      return { outputs: [{ name: 'PID', datatype: 'INT32', shape: [1], data: new Int32Array([process.pid]) }] };
    }));
  }
}
`);
}

interface Replica extends Backend {
  cli: Cli;
}

/** One request's fate: which replica answered (pid), or the error, and when it started and ended. */
interface Outcome {
  id: number;
  via: string;
  start: number;
  end: number;
  pid?: number;
  error?: string;
}

/**
 * Requests from `clients` (round robin), `concurrency` at a time, until `stop` resolves; bounded by
 * `max` requests and `maxMs` whatever happens.
 */
async function load(clients: InferenceClient[], concurrency: number, stop: Promise<unknown>, max = 4000, maxMs = 15_000): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let stopped = false;
  void stop.then(() => (stopped = true));
  const deadline = Date.now() + maxMs;
  let next = 0;
  const worker = async () => {
    while (!stopped && next < max && Date.now() < deadline) {
      const id = next++;
      const c = clients[id % clients.length];
      const o: Outcome = { id, via: c.protocol, start: performance.now(), end: 0 };
      outcomes.push(o);
      try {
        const r = await c.infer('work', [{ name: 'DELAY', datatype: 'INT32', shape: [1], data: [5] }]);
        o.pid = Number(r.output('PID').typed()[0]);
      } catch (e) {
        o.error = (e as Error).message;
      }
      o.end = performance.now();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return outcomes;
}

describe('three replicas behind HAProxy', () => {
  const replicas: Replica[] = [];
  let spare: Backend;
  let lb: HAProxy;
  let dir: string;
  let clients: InferenceClient[];
  let grpcClient: GrpcClient;

  /** Requests answered per replica name, from the pids in the answers; errors under 'error'. */
  const perReplica = (outcomes: Outcome[]) => {
    const counts: Record<string, number> = {};
    for (const o of outcomes) {
      const name = o.error !== undefined ? 'error' : (replicas.find((r) => r.cli.child.pid === o.pid)?.name ?? `pid ${o.pid}`);
      counts[name] = (counts[name] ?? 0) + 1;
    }
    return counts;
  };
  const report = (what: string, outcomes: Outcome[]) => console.log(`${what}: ${outcomes.length} requests, per replica ${JSON.stringify(perReplica(outcomes))}`);

  const startReplica = (ports?: { rest: number; grpc: number }) => new Cli(['serve', '--model-repository', join(dir, 'repo'),
    '--host', '127.0.0.1', '--http-port', String(ports?.rest ?? 0), '--grpc-port', String(ports?.grpc ?? 0), '--metrics-port', 'off',
    // Longer than haproxy's check interval (100 ms): it sees the 400 and stops sending before the listeners close.
    '--shutdown-drain-secs', '0.5', '--shutdown-grace-secs', '5']);

  /** Waits until haproxy counts `name` as UP (or not) in both pools. */
  const waitUp = async (name: string, up: boolean, ms = 15_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      // The admin socket appears a moment after haproxy starts.
      const [rest, grpc] = await Promise.all([lb.states('duet_rest'), lb.states('duet_grpc')]).catch(() => [{}, {}] as Record<string, number>[]);
      if (lb.child.exitCode !== null) assert.fail(`haproxy exited (${lb.child.exitCode})\n${lb.output}`);
      if ((rest[name] === 2) === up && (grpc[name] === 2) === up) return;
      if (Date.now() > deadline) assert.fail(`haproxy never saw ${name} ${up ? 'UP' : 'DOWN'}: ${JSON.stringify({ rest, grpc })}\n${lb.output}`);
      await sleep(50);
    }
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'duet-scale-'));
    await writeWorkModel(join(dir, 'repo'));
    for (const name of ['r1', 'r2', 'r3']) {
      const cli = startReplica();
      replicas.push({ name, cli, ...(await cli.ports().then((p) => ({ rest: p.http, grpc: p.grpc }))) });
    }
    spare = { name: 'r4', rest: await freePort(), grpc: await freePort(), spare: true };
    const [restPort, grpcPort] = [await freePort(), await freePort()];
    lb = await HAProxy.start(dir, haproxyConfig({ restPort, grpcPort, socket: join(dir, 'admin.sock'), backends: [...replicas, spare] }));
    for (const r of replicas) await waitUp(r.name, true);
    grpcClient = new GrpcClient(`127.0.0.1:${grpcPort}`);
    clients = [grpcClient, new HttpClient(`http://127.0.0.1:${restPort}`)];
  });

  after(async () => {
    for (const c of clients ?? []) await c.close();
    await lb?.stop();
    killAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('(a) one gRPC connection reaches every replica; the statistics agree with the answers', async () => {
    const stats = async (r: Replica) => {
      const s = await (await fetch(`http://127.0.0.1:${r.rest}/v2/models/work/stats`)).json() as { model_stats: { inference_stats: { success: { count: number } } }[] };
      return s.model_stats[0].inference_stats.success.count;
    };
    const before = await Promise.all(replicas.map(stats));
    // The gRPC client alone: grpc-js keeps one HTTP/2 connection to haproxy; haproxy balances its streams.
    const outcomes = await load([grpcClient], 6, new Promise(() => {}), 90);
    report('(a) one gRPC connection', outcomes);
    const counts = perReplica(outcomes);
    assert.equal(counts.error, undefined, `errors: ${outcomes.filter((o) => o.error).map((o) => o.error).join('; ')}`);
    // A replica may count a request just after its answer left: read again (bounded) until they agree.
    let fromStats: Record<string, number> = {};
    for (let tries = 0; tries < 20; tries++, await sleep(50)) {
      const after = await Promise.all(replicas.map(stats));
      fromStats = Object.fromEntries(replicas.map((r, i) => [r.name, after[i] - before[i]]));
      if (replicas.every((r) => fromStats[r.name] === counts[r.name])) break;
    }
    console.log(`(a) per replica from each replica's /v2/models/work/stats: ${JSON.stringify(fromStats)}`);
    for (const r of replicas) {
      assert.ok((counts[r.name] ?? 0) > 0, `${r.name} got no request: ${JSON.stringify(counts)}`);
      assert.equal(fromStats[r.name], counts[r.name], `${r.name}: statistics ${fromStats[r.name]}, answers ${counts[r.name]}`);
    }
  });

  test('(b) SIGTERM to a replica under load loses no request', async () => {
    const victim = replicas[2];
    const stop = (async () => {
      await sleep(300);
      victim.cli.child.kill('SIGTERM');
      const exit = await victim.cli.exit(10_000);
      await sleep(300);
      return exit;
    })();
    const outcomes = await load(clients, 8, stop);
    const exit = await stop;
    report(`(b) SIGTERM to ${victim.name}`, outcomes);
    const errors = outcomes.filter((o) => o.error !== undefined);
    assert.deepEqual(errors.map((o) => `${o.via} #${o.id}: ${o.error}`), [], 'requests lost during the SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, victim.cli.output);
    assert.ok((perReplica(outcomes)[victim.name] ?? 0) > 0, 'the victim served nothing before it left');
  });

  test('(c) SIGKILL of a replica under load: errors only among the requests in flight then', async () => {
    const victim = replicas[1];
    let killedAt = 0;
    const stop = (async () => {
      await sleep(300);
      killedAt = performance.now();
      victim.cli.child.kill('SIGKILL');
      await victim.cli.exited;
      await sleep(500);
    })();
    const concurrency = 8;
    const outcomes = await load(clients, concurrency, stop);
    await stop;
    report(`(c) SIGKILL to ${victim.name}`, outcomes);
    const inFlight = outcomes.filter((o) => o.start <= killedAt && (o.end >= killedAt || o.end === 0));
    const errors = outcomes.filter((o) => o.error !== undefined);
    for (const o of errors) console.log(`(c) lost: ${o.via} request #${o.id} (in flight at the kill): ${o.error}`);
    console.log(`(c) ${errors.length} errors; ${inFlight.length} requests were in flight when ${victim.name} was killed`);
    for (const o of errors) assert.ok(inFlight.includes(o), `request #${o.id} failed but started after the kill: ${o.error}`);
    assert.ok(errors.length <= concurrency);
    const after = outcomes.filter((o) => o.start > killedAt);
    assert.ok(after.length > 0 && after.every((o) => o.error === undefined));
  });

  test('(d) a replica added under load gets traffic once ready', async () => {
    // Register the slot first (haproxy's runtime API), then start the replica: the checks keep it out
    // until it answers ready.
    for (const be of ['duet_rest', 'duet_grpc']) {
      await lb.command(`set server ${be}/r4 state ready`);
    }
    const cli = startReplica(spare);
    const added: Replica = { ...spare, cli };
    replicas.push(added);
    let servedAt = 0;
    const stop = (async () => {
      await cli.ports(true, 15_000);
      await waitUp('r4', true);
      await sleep(500);
    })();
    const outcomes = await load(clients, 8, stop);
    await stop;
    servedAt = outcomes.find((o) => o.pid === cli.child.pid)?.start ?? 0;
    report('(d) r4 added', outcomes);
    assert.deepEqual(outcomes.filter((o) => o.error !== undefined).map((o) => `${o.via} #${o.id}: ${o.error}`), []);
    assert.ok(servedAt > 0, `r4 got no request: ${JSON.stringify(perReplica(outcomes))}\n${lb.output}`);
  });
});
