// Chat with a text-generating model (text in, text out: the data plane's generate convention), its
// tokens shown as they arrive, over SSE (REST generate_stream) or gRPC-Web server streaming
// (ModelStreamInfer), switchable. Each turn sends the prompt as typed; the model keeps no history.

import { useEffect, useRef, useState } from 'preact/hooks';
import type { RepositoryEntry } from '../../packages/client/src/types.js';
import { describeError, textTensors, type Connection, type Settings } from './api.js';
import { fmtMs, html } from './util.js';

type Transport = 'sse' | 'grpc-web';

interface Turn {
  prompt: string;
  model: string;
  transport: Transport;
  tokens: string[];
  done: boolean;
  finish?: string;
  error?: string;
  firstMs?: number;
  totalMs?: number;
}

/** Ready models that take and give text, each with its tensor names. */
function useTextModels(conn: Connection, index: RepositoryEntry[]) {
  const [models, setModels] = useState<{ name: string; input: string; output: string }[]>([]);
  const key = index.filter((e) => e.state === 'READY').map((e) => `${e.name}/${e.version}`).join(',');
  useEffect(() => {
    let live = true;
    const ready = index.filter((e) => e.state === 'READY');
    void Promise.all(ready.map((e) => conn.info(e.name, `${e.version}/${e.state}`).then((i) => {
      const t = textTensors(i.config);
      return t ? { name: e.name, ...t } : undefined;
    }, () => undefined))).then((all) => {
      if (live) setModels(all.filter((m) => m !== undefined));
    });
    return () => {
      live = false;
    };
  }, [conn, key]);
  return models;
}

export function ChatPanel({ conn, index, settings }: { conn: Connection; index: RepositoryEntry[]; settings?: Settings }) {
  const models = useTextModels(conn, index);
  const [model, setModel] = useState('');
  const [transport, setTransport] = useState<Transport>('sse');
  const [maxTokens, setMaxTokens] = useState('32');
  const [prompt, setPrompt] = useState('');
  const [turns, setTurns] = useState<Turn[]>([]);
  const abort = useRef<AbortController | undefined>(undefined);
  const chosen = models.find((m) => m.name === model) ?? models.find((m) => m.name === settings?.generate_model) ?? models[0];
  const busy = turns.length > 0 && !turns[turns.length - 1].done;

  const update = (f: (t: Turn) => Turn) => setTurns((ts) => [...ts.slice(0, -1), f(ts[ts.length - 1])]);

  const send = async (e: Event) => {
    e.preventDefault();
    if (!chosen || !prompt || busy) return;
    const text = prompt;
    setPrompt('');
    setTurns((ts) => [...ts, { prompt: text, model: chosen.name, transport, tokens: [], done: false }]);
    const ctrl = new AbortController();
    abort.current = ctrl;
    const body: Record<string, unknown> = { [chosen.input]: text };
    const n = Number(maxTokens);
    if (maxTokens.trim() && Number.isInteger(n) && n > 0) body.max_tokens = n;
    const client = transport === 'sse' ? conn.http : conn.grpcWeb;
    const t0 = performance.now();
    try {
      for await (const r of client.generateStream(chosen.name, body, { signal: ctrl.signal })) {
        const token = r[chosen.output];
        const finish = typeof r.finish_reason === 'string' ? r.finish_reason : undefined;
        update((t) => ({
          ...t,
          tokens: typeof token === 'string' && token !== '' ? [...t.tokens, token] : t.tokens,
          firstMs: t.firstMs ?? performance.now() - t0,
          finish: finish ?? t.finish,
        }));
      }
      update((t) => ({ ...t, done: true, totalMs: performance.now() - t0 }));
    } catch (err) {
      update((t) => ({ ...t, done: true, totalMs: performance.now() - t0, error: ctrl.signal.aborted ? 'stopped' : describeError(err) }));
    }
  };

  return html`<section id="panel-chat" class="panel">
    <h2>Chat</h2>
    <div class="row">
      <label>Model <select id="chat-model" value=${chosen?.name ?? ''} onChange=${(e: Event) => setModel((e.target as HTMLSelectElement).value)}>
        ${models.map((m) => html`<option value=${m.name}>${m.name}</option>`)}
      </select></label>
      <fieldset class="transport"><legend>Stream over</legend>
        <label><input type="radio" name="transport" value="sse" checked=${transport === 'sse'} onChange=${() => setTransport('sse')} /> SSE (generate_stream)</label>
        <label><input type="radio" name="transport" value="grpc-web" checked=${transport === 'grpc-web'} onChange=${() => setTransport('grpc-web')} /> gRPC-Web</label>
      </fieldset>
      <label>Max tokens <input id="chat-max-tokens" class="short" value=${maxTokens} onInput=${(e: Event) => setMaxTokens((e.target as HTMLInputElement).value)} /></label>
    </div>
    <ol id="chat-log" class="chat">${turns.map((t, i) => html`<li key=${i}>
      <div class="user">${t.prompt}</div>
      <div class=${`assistant${t.done ? '' : ' streaming'}`}><span class="tokens">${t.tokens.map((tok) => html`<span class="token">${tok}</span>`)}</span>${t.error ? html`<span class="error"> ${t.error}</span>` : null}</div>
      <div class="meta">${t.model} over ${t.transport === 'sse' ? 'SSE' : 'gRPC-Web'} · ${t.tokens.length} tokens${t.firstMs !== undefined ? ` · first after ${fmtMs(t.firstMs)}` : ''}${t.totalMs !== undefined ? ` · ${fmtMs(t.totalMs)} in all` : ''}${t.finish ? ` · ${t.finish}` : ''}</div>
    </li>`)}</ol>
    <form id="chat-form" class="row" onSubmit=${send}>
      <input id="chat-input" class="grow" placeholder=${chosen ? `Message ${chosen.name}` : 'No ready text model'} value=${prompt} onInput=${(e: Event) => setPrompt((e.target as HTMLInputElement).value)} />
      ${busy ? html`<button type="button" id="chat-stop" onClick=${() => abort.current?.abort()}>Stop</button>` : html`<button id="chat-send" type="submit" disabled=${!chosen}>Send</button>`}
    </form>
  </section>`;
}
