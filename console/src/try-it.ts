// Try it: a request for any ready model built from its metadata (each input's shape, and a value to fill
// it with or a JSON array of all its elements), sent as REST JSON, REST binary or gRPC-Web; the answer's
// outputs, the latency seen here, and the body bytes on the wire each way.

import { useEffect, useState } from 'preact/hooks';
import type { DataType } from '../../packages/client/src/datatypes.js';
import type { InferInput, InferResult, RepositoryEntry } from '../../packages/client/src/types.js';
import { describeError, isDecoupled, type Connection, type ModelInfo, type Protocol, type Wire } from './api.js';
import { fmtBytes, fmtMs, html, preview } from './util.js';

interface Field {
  name: string;
  datatype: DataType;
  shape: string;
  value: string;
}

interface Outcome {
  protocol: Protocol;
  ms: number;
  wire: Wire;
  results?: InferResult[];
  error?: string;
}

const PROTOCOLS: [Protocol, string][] = [['json', 'REST, JSON'], ['binary', 'REST, binary tensors'], ['grpc-web', 'gRPC-Web']];

const defaultValue = (dt: string) => (dt === 'BYTES' ? 'hello' : dt === 'BOOL' ? 'true' : '1');

/** A field's shape and value as an input: a JSON array gives every element, anything else fills the shape. */
export function toInput(f: Field): InferInput {
  const shape = f.shape.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`input '${f.name}': the shape must be whole numbers, got '${f.shape}'`);
  const count = shape.reduce((a, b) => a * b, 1);
  let parsed: unknown;
  try {
    parsed = JSON.parse(f.value);
  } catch {
    if (f.datatype !== 'BYTES') throw new Error(`input '${f.name}': '${f.value}' is not a number, true/false or a JSON array`);
    parsed = f.value;
  }
  const data = Array.isArray(parsed) ? parsed.flat(Infinity) : new Array<unknown>(count).fill(f.datatype === 'BYTES' && typeof parsed !== 'string' ? String(parsed) : parsed);
  if (data.length !== count) throw new Error(`input '${f.name}': ${data.length} values for shape [${shape.join(', ')}], which holds ${count}`);
  return { name: f.name, datatype: f.datatype, shape, data: data as InferInput['data'] };
}

async function send(conn: Connection, protocol: Protocol, model: string, inputs: InferInput[], streaming: boolean): Promise<Outcome> {
  const { http, grpcWeb, wire } = conn.measured();
  const t0 = performance.now();
  try {
    let results: InferResult[];
    if (streaming) {
      if (protocol !== 'grpc-web') throw new Error(`'${model}' is decoupled (any number of responses per request): use gRPC-Web, which streams them`);
      results = [];
      for await (const r of grpcWeb.streamInfer(model, inputs)) results.push(r);
    } else {
      results = [await (protocol === 'grpc-web' ? grpcWeb : http).infer(model, inputs, { binary: protocol === 'binary' })];
    }
    return { protocol, ms: performance.now() - t0, wire, results };
  } catch (e) {
    return { protocol, ms: performance.now() - t0, wire, error: describeError(e) };
  }
}

export function TryItPanel({ conn, index }: { conn: Connection; index: RepositoryEntry[] }) {
  const ready = index.filter((e) => e.state === 'READY');
  const [model, setModel] = useState<string>('');
  const [info, setInfo] = useState<ModelInfo>();
  const [fields, setFields] = useState<Field[]>([]);
  const [protocol, setProtocol] = useState<Protocol>('json');
  const [outcome, setOutcome] = useState<Outcome>();
  const [error, setError] = useState<string>();
  const [running, setRunning] = useState(false);
  const entry = ready.find((e) => e.name === model);

  useEffect(() => {
    setInfo(undefined);
    setFields([]);
    setOutcome(undefined);
    setError(undefined);
    if (!entry) return;
    conn.info(entry.name, `${entry.version}/${entry.state}`).then((i) => {
      setInfo(i);
      const optional = new Set(i.config.input.filter((c) => c.optional).map((c) => c.name));
      setFields(i.meta.inputs.filter((t) => !optional.has(t.name)).map((t) => ({
        name: t.name, datatype: t.datatype as DataType, shape: t.shape.map((d) => (d < 0 ? 1 : d)).join(', '), value: defaultValue(t.datatype),
      })));
    }, (e) => setError(describeError(e)));
  }, [conn, entry?.name, entry?.version]);

  const edit = (i: number, key: 'shape' | 'value', v: string) => setFields((fs) => fs.map((f, j) => (j === i ? { ...f, [key]: v } : f)));
  const run = async (e: Event) => {
    e.preventDefault();
    if (!info) return;
    setError(undefined);
    let inputs: InferInput[];
    try {
      inputs = fields.map(toInput);
    } catch (err) {
      setError((err as Error).message);
      return;
    }
    setRunning(true);
    setOutcome(undefined);
    setOutcome(await send(conn, protocol, model, inputs, isDecoupled(info.config)));
    setRunning(false);
  };

  return html`<section id="panel-try" class="panel">
    <h2>Try it</h2>
    <form id="try-form" onSubmit=${run}>
      <div class="row">
        <label>Model <select id="try-model" value=${model} onChange=${(e: Event) => setModel((e.target as HTMLSelectElement).value)}>
          <option value="">choose a ready model</option>
          ${ready.map((e) => html`<option value=${e.name}>${e.name}</option>`)}
        </select></label>
        <label>Protocol <select id="try-protocol" value=${protocol} onChange=${(e: Event) => setProtocol((e.target as HTMLSelectElement).value as Protocol)}>
          ${PROTOCOLS.map(([p, label]) => html`<option value=${p}>${label}</option>`)}
        </select></label>
      </div>
      ${fields.length ? html`<table class="inputs">
        <thead><tr><th>Input</th><th>Datatype</th><th>Shape</th><th>Value (one to fill, or a JSON array)</th></tr></thead>
        <tbody>${fields.map((f, i) => html`<tr data-input=${f.name}>
          <td><code>${f.name}</code></td><td>${f.datatype}</td>
          <td><input class="shape" value=${f.shape} onInput=${(e: Event) => edit(i, 'shape', (e.target as HTMLInputElement).value)} /></td>
          <td><input class="value" value=${f.value} onInput=${(e: Event) => edit(i, 'value', (e.target as HTMLInputElement).value)} /></td>
        </tr>`)}</tbody>
      </table>` : null}
      <button id="try-run" type="submit" disabled=${!info || running}>${running ? 'Running…' : 'Run'}</button>
    </form>
    ${error ? html`<p class="error">${error}</p>` : null}
    ${outcome ? html`<div id="try-result" data-protocol=${outcome.protocol} class=${outcome.error ? 'result failed' : 'result'}>
      <p class="measure">
        <span id="try-latency">${fmtMs(outcome.ms)}</span> ·
        sent <span id="try-sent">${fmtBytes(outcome.wire.sent)}</span> ·
        received <span id="try-received">${fmtBytes(outcome.wire.received)}</span>${' '}
        <span class="hint">(${PROTOCOLS.find(([p]) => p === outcome.protocol)![1]}; request and response bodies, HTTP headers not counted)</span>
      </p>
      ${outcome.error ? html`<p class="error">${outcome.error}</p>` : outcome.results!.map((r, n) => html`<table class="outputs">
        <caption>${outcome.results!.length > 1 ? `response ${n + 1}: ` : ''}${r.modelName} version ${r.modelVersion}${r.id ? `, id ${r.id}` : ''}</caption>
        <thead><tr><th>Output</th><th>Datatype</th><th>Shape</th><th>Values</th></tr></thead>
        <tbody>${r.outputs.map((o) => html`<tr data-output=${o.name}>
          <td><code>${o.name}</code></td><td>${o.datatype}</td><td>[${o.shape.join(', ')}]</td><td class="values">${preview(o.values())}</td>
        </tr>`)}</tbody>
      </table>`)}
    </div>` : null}
  </section>`;
}
