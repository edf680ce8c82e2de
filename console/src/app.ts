// The whole page: server identity and health on top, then the panels. It polls the server (health and the
// repository index every 2 s, statistics every second) and hands the results down; an answer saying a key
// is needed stops the polls and asks for one.

import { useMemo, useState } from 'preact/hooks';
import type { RepositoryEntry, ServerMetadataResult } from '../../packages/client/src/types.js';
import { Connection, describeError, needsKey, type ModelStats, type Settings } from './api.js';
import { ChartsPanel, type History, pushSample } from './charts.js';
import { ChatPanel } from './chat.js';
import { ModelsPanel } from './models.js';
import { TryItPanel } from './try-it.js';
import { html, usePoll } from './util.js';

const KEY_ITEM = 'duet-console-api-key';
/** Where the OpenAPI document is rendered for people (served by the REST port). */
const OPENAPI_PAGE = '/v2/openapi.html';

function KeyForm({ message, onKey }: { message: string; onKey: (key: string) => void }) {
  const [key, setKey] = useState('');
  const submit = (e: Event) => {
    e.preventDefault();
    if (key) onKey(key);
  };
  return html`<form id="key-form" class="panel key" onSubmit=${submit}>
    <h2>API key</h2>
    <p>${message}</p>
    <label>Key <input id="api-key" type="password" autocomplete="off" value=${key} onInput=${(e: Event) => setKey((e.target as HTMLInputElement).value)} /></label>
    <button type="submit">Use key</button>
    <p class="hint">Kept in this tab's session storage only, and sent as <code>Authorization: Bearer …</code>.</p>
  </form>`;
}

export function App() {
  const [token, setToken] = useState<string | undefined>(() => sessionStorage.getItem(KEY_ITEM) ?? undefined);
  const conn = useMemo(() => new Connection(token), [token]);
  const [keyMessage, setKeyMessage] = useState<string>();
  const [error, setError] = useState<string>();
  const [server, setServer] = useState<ServerMetadataResult>();
  const [settings, setSettings] = useState<Settings>();
  const [health, setHealth] = useState<{ live: boolean; ready: boolean }>();
  const [index, setIndex] = useState<RepositoryEntry[]>([]);
  const [stats, setStats] = useState<ModelStats[]>([]);
  const [history, setHistory] = useState<History>({ times: [], models: new Map() });
  const running = keyMessage === undefined;

  /** A failed poll: a key is needed (polls stop until one is given), or the error is shown. */
  const failed = (e: unknown) => {
    if (needsKey(e)) setKeyMessage(token ? `The server refused this key: ${describeError(e)}` : 'This server needs an API key.');
    else setError(describeError(e));
  };

  usePoll(async () => {
    try {
      const [live, ready] = await Promise.all([conn.http.isServerLive(), conn.http.isServerReady()]);
      setHealth({ live, ready });
      if (!server) setServer(await conn.http.getServerMetadata());
      if (!settings) setSettings(await conn.settings());
      setIndex(await conn.http.getModelRepositoryIndex());
      setError(undefined);
    } catch (e) {
      setHealth((h) => h && { ...h, live: false });
      failed(e);
    }
  }, 2000, [conn], running);

  usePoll(async () => {
    try {
      const s = await conn.stats();
      setStats(s);
      setHistory((h) => pushSample(h, performance.now(), s));
    } catch (e) {
      failed(e);
    }
  }, 1000, [conn], running);

  const useKey = (key: string) => {
    sessionStorage.setItem(KEY_ITEM, key);
    setToken(key);
    setKeyMessage(undefined);
    setServer(undefined);
    setSettings(undefined);
  };
  const refresh = async () => setIndex(await conn.http.getModelRepositoryIndex());

  const badge = (ok: boolean | undefined, yes: string, no: string) =>
    html`<span class=${`badge ${ok === undefined ? 'unknown' : ok ? 'ok' : 'bad'}`}>${ok === undefined ? '…' : ok ? yes : no}</span>`;

  return html`<header id="panel-server" class="server">
      <div class="identity">
        <h1>${server ? html`${server.name} <span class="version">${server.version}</span>` : 'Duet'}</h1>
        <div class="extensions">${server?.extensions.map((x) => html`<span class="ext">${x}</span>`)}</div>
      </div>
      <div class="health">
        <span id="live">${badge(health?.live, 'live', 'not live')}</span>
        <span id="ready">${badge(health?.ready, 'ready', 'not ready')}</span>
        <a href=${OPENAPI_PAGE} target="_blank" rel="noopener">API reference</a>
        ${token ? html`<button class="link" onClick=${() => { sessionStorage.removeItem(KEY_ITEM); setToken(undefined); }}>forget key</button>` : null}
      </div>
    </header>
    ${error ? html`<div id="error" class="error">${error}</div>` : null}
    ${keyMessage !== undefined ? html`<${KeyForm} message=${keyMessage} onKey=${useKey} />` : html`<main>
      <${ModelsPanel} conn=${conn} index=${index} stats=${stats} settings=${settings} onChanged=${refresh} />
      <${TryItPanel} conn=${conn} index=${index} />
      <${ChartsPanel} history=${history} />
      <${ChatPanel} conn=${conn} index=${index} settings=${settings} />
    </main>`}`;
}
