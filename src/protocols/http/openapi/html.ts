// GET /v2/openapi.html: the document rendered on the server as one small HTML page (no scripts, no
// CDN): each operation with its parameters, bodies and answers, then each schema, $refs as links.

import { createHash } from 'node:crypto';

type Json = Record<string, unknown>;

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const anchor = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, '_');

const CSS = `body{font:15px/1.45 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1c2330}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #ccd;padding-bottom:.2rem;margin-top:2rem}
.op{border:1px solid #dde;border-radius:6px;margin:.8rem 0;padding:.5rem .8rem}
.m{display:inline-block;min-width:3.5rem;font:bold 13px monospace;color:#fff;border-radius:4px;padding:2px 6px;text-align:center}
.GET{background:#2f7d4f}.POST{background:#2d5fa8}code,pre{font:13px ui-monospace,monospace}
pre{background:#f4f5f8;padding:.5rem;overflow:auto;white-space:pre-wrap}
table{border-collapse:collapse}td,th{border:1px solid #dde;padding:2px 8px;text-align:left;vertical-align:top}
.d{white-space:pre-line;color:#333}`;

/** The Content-Security-Policy the page is served with: nothing loads, only its own style block applies. */
export const HTML_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(CSS).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

function schemaLink(s: unknown): string {
  if (s && typeof s === 'object' && '$ref' in s) {
    const name = String((s as Json).$ref).split('/').pop()!;
    return `<a href="#schema-${anchor(name)}">${esc(name)}</a>`;
  }
  return `<code>${esc(JSON.stringify(s))}</code>`;
}

function contentList(content: unknown): string {
  if (!content || typeof content !== 'object') return '';
  return Object.entries(content as Record<string, Json>).map(([type, c]) => `<code>${esc(type)}</code> ${schemaLink(c.schema)}`).join('<br>');
}

function operationHtml(path: string, method: string, op: Json): string {
  const params = (op.parameters as Json[] | undefined) ?? [];
  const body = op.requestBody as Json | undefined;
  const responses = Object.entries((op.responses ?? {}) as Record<string, Json>);
  const security = (op.security as Json[] | undefined)?.flatMap((s) => Object.keys(s)) ?? [];
  return `<div class="op" id="op-${anchor(String(op.operationId))}"><span class="m ${esc(method.toUpperCase())}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code> — ${esc(op.summary)}
${op.description ? `<p class="d">${esc(op.description)}</p>` : ''}
${params.length ? `<p>Path parameters: ${params.map((p) => `<code>${esc(p.name)}</code> (${esc(p.description)})`).join(', ')}</p>` : ''}
${body ? `<p>Request body${body.required ? '' : ' (optional)'}:<br>${contentList(body.content)}</p>` : ''}
<table><tr><th>Status</th><th>Meaning</th><th>Body</th></tr>${responses.map(([status, r]) => `<tr><td>${esc(status)}</td><td>${esc(r.description)}</td><td>${contentList(r.content)}</td></tr>`).join('')}</table>
<p>Security: ${security.length ? security.map((s) => `<code>${esc(s)}</code>`).join(' and ') : 'none'}</p></div>`;
}

/** Pretty JSON of a schema, its $refs made links (escaped first, so nothing in the document becomes markup). */
function schemaHtml(name: string, schema: unknown): string {
  const text = esc(JSON.stringify(schema, null, 2)).replace(/&#34;#\/components\/schemas\/([A-Za-z0-9_]+)&#34;/g,
    (_m, n: string) => `"<a href="#schema-${anchor(n)}">#/components/schemas/${n}</a>"`);
  return `<h3 id="schema-${anchor(name)}">${esc(name)}</h3><pre>${text}</pre>`;
}

export function renderHtml(doc: Json): string {
  const info = doc.info as Json;
  const paths = doc.paths as Record<string, Record<string, Json>>;
  const components = doc.components as Json;
  const byTag = new Map<string, string[]>();
  for (const [path, ops] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = String((op.tags as string[] | undefined)?.[0] ?? 'other');
      let list = byTag.get(tag);
      if (!list) byTag.set(tag, (list = []));
      list.push(operationHtml(path, method, op));
    }
  }
  const tags = new Map(((doc.tags as Json[] | undefined) ?? []).map((t) => [String(t.name), String(t.description ?? '')]));
  const schemes = Object.entries((components.securitySchemes ?? {}) as Record<string, Json>);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(info.title)} ${esc(info.version)} — REST API</title><style>${CSS}</style></head><body>
<h1>${esc(info.title)} ${esc(info.version)} — REST API</h1><p>OpenAPI ${esc(doc.openapi)} · <a href="openapi.json">openapi.json</a></p>
<p class="d">${esc(info.description)}</p>
<h2>Security schemes</h2><ul>${schemes.map(([n, s]) => `<li><code>${esc(n)}</code>: ${esc(s.description)}</li>`).join('')}</ul>
${[...byTag].map(([tag, ops]) => `<h2 id="tag-${anchor(tag)}">${esc(tag)}</h2><p>${esc(tags.get(tag) ?? '')}</p>${ops.join('\n')}`).join('\n')}
<h2>Schemas</h2>${Object.entries((components.schemas ?? {}) as Json).map(([n, s]) => schemaHtml(n, s)).join('\n')}
</body></html>`;
}
