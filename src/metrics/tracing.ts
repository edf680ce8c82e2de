// OpenTelemetry tracing, off unless configured: one server span per inference request, continuing
// the caller's trace from a W3C `traceparent`, with child spans for decode, queue, compute and encode.

import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { TraceRecorder, TraceStage } from '../core/trace.js';

export interface TracingOptions {
  /** OTLP/HTTP endpoint, e.g. http://localhost:4318/v1/traces. */
  otlpEndpoint?: string;
  /** Any exporter instead (tests use an in-memory one); spans are then exported as they end. */
  exporter?: SpanExporter;
  serviceName?: string;
}

const propagator = new W3CTraceContextPropagator();
const getter = {
  keys: (carrier: Record<string, string | undefined>) => Object.keys(carrier),
  get: (carrier: Record<string, string | undefined>, key: string) => carrier[key],
};

export class Tracing {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;

  constructor(opts: TracingOptions) {
    const processor = opts.exporter
      ? new SimpleSpanProcessor(opts.exporter)
      : new BatchSpanProcessor(new OTLPTraceExporter({ url: opts.otlpEndpoint }));
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': opts.serviceName ?? 'duet' }),
      spanProcessors: [processor],
    });
    this.tracer = this.provider.getTracer('duet');
  }

  /**
   * Start the span of one request. `headers` carries `traceparent`/`tracestate` (HTTP headers or
   * gRPC metadata, lower-case keys). The returned handle records stages and ends the span.
   */
  startRequest(name: string, headers: Record<string, string | undefined>, attributes: Record<string, string>): RequestTrace {
    const parent = propagator.extract(context.active(), headers, getter);
    const span = this.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
    return new RequestTrace(this.tracer, span);
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}

export class RequestTrace implements TraceRecorder {
  constructor(private readonly tracer: Tracer, readonly span: Span) {}

  record(stage: TraceStage, startMs: number, endMs: number): void {
    const ctx = trace.setSpan(context.active(), this.span);
    this.tracer.startSpan(stage, { startTime: startMs }, ctx).end(endMs);
  }

  end(error?: { message: string }): void {
    if (error) this.span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    this.span.end();
  }
}
