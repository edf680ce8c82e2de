// Prometheus exposition on its own port: Triton's nv_inference_* metrics per model and version
// (read from the same statistics as the statistics extension, at scrape time) and Duet's own
// per-protocol request counters and latency histograms.

import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import client from 'prom-client';
import type { ByteBudget } from '../core/budget.js';
import type { ModelStats } from './statistics.js';
import { nodeTlsOptions, type ListenerTls } from '../core/tls.js';
import { DEFAULT_HOST } from '../core/listen.js';

export const DEFAULT_METRICS_PORT = 8002;
import type { AccessControl } from '../security/auth.js';

export interface ModelSnapshot {
  name: string;
  version: string;
  stats: ModelStats;
  pending: number;
}

type Source = () => ModelSnapshot[];

/** A counter whose value is read from the statistics at scrape time. */
function mirroredCounter(registry: client.Registry, name: string, help: string, source: Source, value: (m: ModelSnapshot) => number) {
  return new client.Counter({
    name, help, labelNames: ['model', 'version'], registers: [registry],
    collect() {
      this.reset();
      for (const m of source()) this.inc({ model: m.name, version: m.version }, Math.max(0, value(m)));
    },
  });
}

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One protocol and method's answered requests, kept in plain numbers: prom-client's per-call label hashing costs more than the rest of a small request's bookkeeping. */
interface RequestSeries {
  labels: { protocol: string; method: string };
  codes: Map<string, number>;
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  buckets: number[];
  sum: number;
  count: number;
}

/** duet_request_duration_seconds, read from the series at scrape time, as prom-client's Histogram lays it out. */
function latencyHistogram(series: () => Iterable<RequestSeries>) {
  const name = 'duet_request_duration_seconds';
  const help = 'Time from request arrival to response, by protocol and method';
  const get = () => {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const s of series()) {
      let acc = 0;
      s.buckets.forEach((n, i) => {
        acc += n;
        values.push({ labels: { le: i < LATENCY_BUCKETS.length ? LATENCY_BUCKETS[i] : '+Inf', ...s.labels }, value: acc, metricName: `${name}_bucket` });
      });
      values.push({ labels: s.labels, value: s.sum, metricName: `${name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${name}_count` });
    }
    return { name, help, type: 'histogram', aggregator: 'sum', values };
  };
  return { name, help, type: 'histogram', aggregator: 'sum', labelNames: ['protocol', 'method'], get, reset() {} };
}

export class Metrics {
  readonly registry = new client.Registry();
  /** protocol -> method -> series. */
  private readonly series = new Map<string, Map<string, RequestSeries>>();

  constructor(source: Source, budget?: ByteBudget) {
    const r = this.registry;
    const us = (ns: number) => Math.floor(ns / 1000);
    mirroredCounter(r, 'nv_inference_request_success', 'Number of successful inference requests, all batch sizes', source, (m) => m.stats.success.count);
    mirroredCounter(r, 'nv_inference_request_failure', 'Number of failed inference requests, all batch sizes', source, (m) => m.stats.fail.count);
    mirroredCounter(r, 'nv_inference_count', 'Number of inferences performed (each row of a batch counts)', source, (m) => m.stats.inferenceCount);
    mirroredCounter(r, 'nv_inference_exec_count', 'Number of model executions performed (a batch counts once)', source, (m) => m.stats.executionCount);
    mirroredCounter(r, 'nv_inference_request_duration_us', 'Cumulative inference request duration in microseconds', source, (m) => us(m.stats.success.ns + m.stats.fail.ns));
    mirroredCounter(r, 'nv_inference_queue_duration_us', 'Cumulative inference queuing duration in microseconds', source, (m) => us(m.stats.queue.ns));
    mirroredCounter(r, 'nv_inference_compute_input_duration_us', 'Cumulative compute input duration in microseconds', source, (m) => us(m.stats.computeInput.ns));
    mirroredCounter(r, 'nv_inference_compute_infer_duration_us', 'Cumulative compute inference duration in microseconds', source, (m) => us(m.stats.computeInfer.ns));
    mirroredCounter(r, 'nv_inference_compute_output_duration_us', 'Cumulative inference compute output duration in microseconds', source, (m) => us(m.stats.computeOutput.ns));
    new client.Gauge({
      name: 'nv_inference_pending_request_count', help: 'Instantaneous number of pending requests awaiting execution per model',
      labelNames: ['model', 'version'], registers: [r],
      collect() {
        this.reset();
        for (const m of source()) this.set({ model: m.name, version: m.version }, m.pending);
      },
    });
    const all = () => [...this.series.values()].flatMap((m) => [...m.values()]);
    new client.Counter({
      name: 'duet_requests_total', help: 'Requests answered, by protocol, method and status code',
      labelNames: ['protocol', 'method', 'code'], registers: [r],
      collect() {
        this.reset();
        for (const s of all()) for (const [code, n] of s.codes) this.inc({ ...s.labels, code }, n);
      },
    });
    r.registerMetric(latencyHistogram(all) as unknown as client.Metric);
    if (budget) {
      new client.Gauge({
        name: 'duet_inflight_bytes', help: 'Request bytes held in memory now, against the in-flight budget (--max-inflight-bytes)',
        registers: [r], collect() { this.set(budget.used); },
      });
      new client.Gauge({
        name: 'duet_inflight_bytes_limit', help: 'The in-flight byte budget (--max-inflight-bytes)',
        registers: [r], collect() { this.set(budget.limit); },
      });
    }
    // Read at scrape, nothing on the request path: two scrapes give the main thread's utilization between them.
    new client.Gauge({
      name: 'duet_main_event_loop_seconds', help: "The main thread's event-loop time since start, by state (active, idle); utilization = delta active / delta (active + idle)",
      labelNames: ['state'], registers: [r],
      collect() {
        const e = performance.eventLoopUtilization();
        this.set({ state: 'active' }, e.active / 1000);
        this.set({ state: 'idle' }, e.idle / 1000);
      },
    });
    client.collectDefaultMetrics({ register: r, prefix: 'duet_' });
  }

  /** One answered request; `code` is the HTTP status or the gRPC status name. */
  observe(protocol: 'http' | 'grpc' | 'grpc-web', method: string, code: string | number, seconds: number): void {
    let methods = this.series.get(protocol);
    if (!methods) this.series.set(protocol, (methods = new Map()));
    let s = methods.get(method);
    if (!s) methods.set(method, (s = { labels: { protocol, method }, codes: new Map(), buckets: new Array(LATENCY_BUCKETS.length + 1).fill(0), sum: 0, count: 0 }));
    const c = String(code);
    s.codes.set(c, (s.codes.get(c) ?? 0) + 1);
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]) i++;
    s.buckets[i]++;
    s.sum += seconds;
    s.count++;
  }
}

export class MetricsServer {
  private readonly server: http.Server | https.Server;

  /** With `tls`, metrics are served over HTTPS. */
  constructor(private readonly metrics: Metrics, private readonly opts: { host?: string; port?: number; tls?: ListenerTls; access?: AccessControl }) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const path = (req.url ?? '/').split('?')[0];
      // With an API key set, scrapes need it too (Prometheus: authorization.credentials).
      const denied = opts.access?.checkKey((name) => req.headers[name] as string | undefined);
      if (denied) {
        res.writeHead(denied.httpStatus, { 'content-type': 'application/json', 'www-authenticate': 'Bearer realm="duet"' }).end(JSON.stringify({ error: denied.message }));
        return;
      }
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no route for ${req.method} ${path}; metrics are at GET /metrics` }));
        return;
      }
      this.metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text),
        (e: Error) => res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: e.message })),
      );
    };
    this.server = opts.tls ? https.createServer(nodeTlsOptions(opts.tls), handler) : http.createServer(handler);
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? DEFAULT_METRICS_PORT, this.opts.host ?? DEFAULT_HOST, () => resolve(this.server.address() as AddressInfo));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
