// Models: every model in the repository with its state, version and request counts (updating with the
// polls), and for the selected one its metadata, config and statistics. Load and unload buttons appear
// only when the server's model control mode allows them (explicit).

import { useEffect, useState } from 'preact/hooks';
import type { RepositoryEntry } from '../../packages/client/src/types.js';
import { describeError, type Connection, type ModelInfo, type ModelStats, type Settings } from './api.js';
import { fmtMs, html } from './util.js';

interface Props {
  conn: Connection;
  index: RepositoryEntry[];
  stats: ModelStats[];
  settings?: Settings;
  onChanged: () => Promise<void>;
}

const requests = (s?: ModelStats) => (s ? s.inference_stats.success.count + s.inference_stats.fail.count : 0);
const meanMs = (s?: ModelStats) => (s && s.inference_stats.success.count ? s.inference_stats.success.ns / s.inference_stats.success.count / 1e6 : undefined);

export function ModelsPanel({ conn, index, stats, settings, onChanged }: Props) {
  const [selected, setSelected] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const [message, setMessage] = useState<string>();
  const control = settings?.model_control_mode === 'explicit';
  const statsOf = (name: string, version?: string) => stats.find((s) => s.name === name && (!version || s.version === version));

  const act = async (name: string, what: 'load' | 'unload') => {
    setBusy(name);
    setMessage(undefined);
    try {
      if (what === 'load') await conn.http.loadModel(name);
      else await conn.http.unloadModel(name);
      setMessage(`${what === 'load' ? 'Loaded' : 'Unloaded'} ${name}`);
    } catch (e) {
      setMessage(`${what} ${name}: ${describeError(e)}`);
    } finally {
      setBusy(undefined);
      await onChanged().catch(() => undefined);
    }
  };

  const entry = index.find((e) => e.name === selected);
  return html`<section id="panel-models" class="panel">
    <h2>Models <span class="count">${index.length}</span></h2>
    ${settings ? html`<p class="hint">Model control: <code>${settings.model_control_mode}</code>${control ? '' : ' (load and unload are off)'}</p>` : null}
    ${message ? html`<p class="message">${message}</p>` : null}
    <table id="model-list">
      <thead><tr><th>Model</th><th>Version</th><th>State</th><th class="num">Requests</th><th class="num">Mean latency</th>${control ? html`<th></th>` : null}</tr></thead>
      <tbody>${index.map((e) => {
        const s = statsOf(e.name, e.version);
        const mean = meanMs(s);
        return html`<tr key=${`${e.name}/${e.version ?? ''}`} data-model=${e.name} class=${e.name === selected ? 'selected' : ''} onClick=${() => setSelected(e.name)}>
          <td class="name">${e.name}</td><td>${e.version ?? ''}</td>
          <td><span class=${`state ${(e.state ?? '').toLowerCase()}`} title=${e.reason ?? ''}>${e.state}</span></td>
          <td class="num">${requests(s)}</td><td class="num">${mean === undefined ? '' : fmtMs(mean)}</td>
          ${control ? html`<td class="actions">${e.state === 'READY'
            ? html`<button disabled=${busy === e.name} onClick=${(ev: Event) => { ev.stopPropagation(); void act(e.name, 'unload'); }}>Unload</button>`
            : html`<button disabled=${busy === e.name} onClick=${(ev: Event) => { ev.stopPropagation(); void act(e.name, 'load'); }}>Load</button>`}</td>` : null}
        </tr>`;
      })}</tbody>
    </table>
    ${entry ? html`<${ModelDetail} conn=${conn} entry=${entry} stats=${statsOf(entry.name, entry.version)} />` : html`<p class="hint">Select a model for its metadata, config and statistics.</p>`}
  </section>`;
}

function ModelDetail({ conn, entry, stats }: { conn: Connection; entry: RepositoryEntry; stats?: ModelStats }) {
  const [info, setInfo] = useState<ModelInfo>();
  const [error, setError] = useState<string>();
  const ready = entry.state === 'READY';
  useEffect(() => {
    setInfo(undefined);
    setError(undefined);
    if (!ready) return;
    conn.info(entry.name, `${entry.version}/${entry.state}`).then(setInfo, (e) => setError(describeError(e)));
  }, [conn, entry.name, entry.version, entry.state]);
  const io = (list: { name: string; datatype: string; shape: number[] }[]) =>
    list.map((t) => html`<li><code>${t.name}</code> ${t.datatype} [${t.shape.join(', ')}]</li>`);
  return html`<div id="model-detail" class="detail">
    <h3>${entry.name}</h3>
    ${entry.reason ? html`<p class="reason">${entry.reason}</p>` : null}
    ${!ready ? html`<p class="hint">Not loaded: metadata and config are shown for ready models.</p>` : null}
    ${error ? html`<p class="error">${error}</p>` : null}
    ${info ? html`<div class="columns">
      <div><h4>Inputs</h4><ul>${io(info.meta.inputs)}</ul><h4>Outputs</h4><ul>${io(info.meta.outputs)}</ul>
        <p>Platform <code>${info.meta.platform}</code>, versions ${info.meta.versions.join(', ')}</p></div>
      <div><h4>Config</h4><pre class="json">${JSON.stringify(info.config, null, 2)}</pre></div>
    </div>` : null}
    ${stats ? html`<h4>Statistics (version ${stats.version})</h4><table class="stats">
      <tr><th>Inferences</th><td>${stats.inference_count}</td><th>Executions</th><td>${stats.execution_count}</td></tr>
      ${(['success', 'fail', 'queue', 'compute_input', 'compute_infer', 'compute_output'] as const).map((k) => {
        const d = stats.inference_stats[k];
        return html`<tr><th>${k}</th><td>${d.count}</td><th>mean</th><td>${d.count ? fmtMs(d.ns / d.count / 1e6) : ''}</td></tr>`;
      })}
    </table>` : null}
  </div>`;
}
