// npm run soak -- [--duration 60] [--interval 5] [--url HOST:PORT --grpc HOST:PORT --metrics HOST:PORT]
// Mixed load for a while: unary infer over REST and gRPC (a few cancelled at once), and streams over
// SSE and gRPC ModelStreamInfer, some read to the end, some abandoned part-way, some stalled (left
// unread for seconds) and then abandoned. Every interval it prints the server's RSS and what is in
// flight; at the end, whether the RSS came back once the load stopped. Without --url it starts a
// server (a child process) on my_model and text_repeat. Not part of CI.

import { cp, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GrpcClient } from '../packages/client/src/grpc.js';
import { HttpClient } from '../packages/client/src/node.js';
import type { InferenceClient } from '../packages/client/src/types.js';
import { InferenceError } from '../src/core/errors.js';
import { ROOT, startChild, stopper } from '../src/bench/target.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    interval: { type: 'string', default: '5' },
    url: { type: 'string' },
    grpc: { type: 'string' },
    metrics: { type: 'string' },
    unary: { type: 'string', default: '4' },
    streams: { type: 'string', default: '3' },
  },
});
const duration = Number(values.duration) * 1000;
const interval = Number(values.interval) * 1000;

async function startServer() {
  const repo = await mkdtemp(join(tmpdir(), 'duet-soak-'));
  for (const m of ['my_model', 'text_repeat']) await cp(join(ROOT, 'models', m), join(repo, m), { recursive: true });
  const s = await startChild(join(ROOT, 'dist/src/cli/main.js'),
    ['serve', '--model-repository', repo, '--host', '127.0.0.1', '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0'],
    /REST \(KServe v2\) listening on http:\/\/[^:]+:(\d+)[\s\S]*Prometheus metrics at http:\/\/[^:]+:(\d+)[\s\S]*gRPC .* listening on [^:]+:(\d+)/, 'duet serve');
  return {
    rest: `127.0.0.1:${s.match[1]}`, grpc: `127.0.0.1:${s.match[3]}`, metrics: `127.0.0.1:${s.match[2]}`,
    exited: () => s.child.exitCode !== null,
    stop: async () => {
      await stopper(s.child)();
      await rm(repo, { recursive: true, force: true });
    },
  };
}

/** RSS and queued requests from the server's Prometheus endpoint. */
function scrape(metrics: string | undefined): Promise<{ rss: number; pending: number } | undefined> {
  if (!metrics) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    http.get(`http://${metrics}/metrics`, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        const rss = Number(/^duet_process_resident_memory_bytes (\S+)/m.exec(text)?.[1] ?? NaN);
        const pending = [...text.matchAll(/^nv_inference_pending_request_count\{[^}]*\} (\S+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
        resolve({ rss, pending });
      });
    }).on('error', () => resolve(undefined));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stats = {
  inflight: { unary: 0, streams: 0, stalled: 0 },
  done: { rest: 0, grpc: 0, cancelled: 0, streamsRead: 0, streamsAbandoned: 0, streamsStalled: 0 },
  errors: new Map<string, number>(),
};
const noteError = (where: string, e: unknown) => {
  const key = `${where}: ${e instanceof InferenceError ? `${e.code} ${e.message.slice(0, 80)}` : (e as Error).message.slice(0, 80)}`;
  stats.errors.set(key, (stats.errors.get(key) ?? 0) + 1);
};
const isOwnAbort = (e: unknown) => (e as Error).name === 'AbortError' || (e instanceof InferenceError && e.code === 'CANCELLED');

async function unaryLoop(c: InferenceClient, until: number): Promise<void> {
  const data = new Float32Array(128).fill(1);
  for (let i = 0; performance.now() < until; i++) {
    const cancel = i % 50 === 49;
    const ac = new AbortController();
    if (cancel) setTimeout(() => ac.abort(), 1);
    stats.inflight.unary++;
    try {
      await c.infer('my_model', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], data }], { signal: ac.signal });
      stats.done[c.protocol === 'http' ? 'rest' : 'grpc']++;
    } catch (e) {
      if (cancel && isOwnAbort(e)) stats.done.cancelled++;
      else if (!cancel) noteError(`${c.protocol} infer`, e);
      else stats.done.cancelled++;
    } finally {
      stats.inflight.unary--;
    }
  }
}

/** text_repeat streams 200 responses: read them all, abandon part-way, or stall and then abandon. */
async function streamLoop(c: InferenceClient, until: number, seed: number): Promise<void> {
  for (let i = seed; performance.now() < until; i++) {
    const mode = i % 5 === 0 ? 'stall' : i % 3 === 0 ? 'abandon' : 'read';
    const ac = new AbortController();
    stats.inflight.streams++;
    let n = 0;
    try {
      for await (const _ of c.generateStream('text_repeat', { text_input: 'soak', count: 200 }, { signal: ac.signal })) {
        n++;
        if (mode === 'abandon' && n === 10 + (i % 40)) break;
        if (mode === 'stall' && n === 5) {
          stats.inflight.stalled++;
          await sleep(2000 + (i % 4) * 1000);
          stats.inflight.stalled--;
          ac.abort();
          break;
        }
      }
      stats.done[mode === 'read' ? 'streamsRead' : mode === 'abandon' ? 'streamsAbandoned' : 'streamsStalled']++;
    } catch (e) {
      if (!isOwnAbort(e)) noteError(`${c.protocol} stream`, e);
      else stats.done.streamsStalled++;
    } finally {
      ac.abort();
      stats.inflight.streams--;
    }
  }
}

const mb = (b: number) => (Number.isFinite(b) ? `${Math.round(b / 1048576)} MB` : 'n/a');

const server = values.url ? undefined : await startServer();
const target = server ?? { rest: values.url!, grpc: values.grpc, metrics: values.metrics };
console.log(`soak: ${duration / 1000} s against REST ${target.rest}${target.grpc ? `, gRPC ${target.grpc}` : ''}${target.metrics ? `, metrics ${target.metrics}` : ' (no --metrics: RSS not shown)'}`);
const clients: InferenceClient[] = [new HttpClient(target.rest), ...(target.grpc ? [new GrpcClient(target.grpc)] : [])];
const start = await scrape(target.metrics);
const t0 = performance.now();
const until = t0 + duration;
let peak = start?.rss ?? 0;
const loops = clients.flatMap((c) => [
  ...Array.from({ length: Number(values.unary) }, () => unaryLoop(c, until)),
  ...Array.from({ length: Number(values.streams) }, (_, k) => streamLoop(c, until, k)),
]);
const ticker = setInterval(() => {
  void scrape(target.metrics).then((m) => {
    if (m) peak = Math.max(peak, m.rss);
    const d = stats.done;
    console.log(`t=${Math.round((performance.now() - t0) / 1000)}s rss ${mb(m?.rss ?? NaN)} queued ${m?.pending ?? 'n/a'} | in flight: unary ${stats.inflight.unary}, streams ${stats.inflight.streams} (stalled ${stats.inflight.stalled})` +
      ` | done: rest ${d.rest}, grpc ${d.grpc}, cancelled ${d.cancelled}, streams read ${d.streamsRead}, abandoned ${d.streamsAbandoned}, stalled ${d.streamsStalled} | errors ${[...stats.errors.values()].reduce((a, b) => a + b, 0)}`);
  });
}, interval);
await Promise.all(loops);
clearInterval(ticker);
await Promise.all(clients.map((c) => c.close()));
// Give the server a moment to release what the abandoned streams held, then look again.
await sleep(2000);
const end = await scrape(target.metrics);
const alive = await scrape(target.metrics).then((m) => m !== undefined || !target.metrics);
console.log(`soak done: RSS ${mb(start?.rss ?? NaN)} at start, ${mb(peak)} peak, ${mb(end?.rss ?? NaN)} after the load; queued now ${end?.pending ?? 'n/a'}`);
for (const [k, n] of stats.errors) console.log(`  error x${n}: ${k}`);
const died = server?.exited() ?? !alive;
await server?.stop();
if (died || stats.errors.size) {
  console.log(died ? 'soak: the server went away' : 'soak: unexpected errors (above)');
  process.exit(1);
}
