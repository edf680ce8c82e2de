// The web console at / on the REST port, in a real browser: Debian's Chromium driven by playwright-core,
// headless, against test servers. Any console error or uncaught page error fails the test that caused it.
// A screenshot of each panel goes under the test's temp dir (kept in CONSOLE_SCREENSHOTS=DIR when set).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { baseUrl, scratchRepo, startTestServer } from './harness.js';
import { Cli, killAll } from './cli-process.js';
import { CSP } from '../src/protocols/http/console.js';
import { resolve } from '../src/cli/flags.js';
import { SERVE_FLAGS } from '../src/cli/serve-flags.js';
import type { RunningServer } from '../src/server.js';

const KEY = 'console-test-key';

/** A browser tab on a server's console, with every console error and page error it reports. */
class Tab {
  readonly errors: string[] = [];
  /** Messages expected in this tab (e.g. the 401s before a key is given). */
  allowed: RegExp[] = [];

  constructor(readonly page: Page, readonly shots: string) {
    page.on('console', (m) => {
      if (m.type() === 'error' && !this.allowed.some((re) => re.test(m.text()))) this.errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => this.errors.push(`page: ${e.message}`));
  }

  static async open(browser: Browser, server: RunningServer, shots: string): Promise<Tab> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(30_000);
    const tab = new Tab(page, shots);
    await page.goto(`${baseUrl(server)}/`);
    return tab;
  }

  noErrors(): void {
    assert.deepEqual(this.errors, [], 'the page reported errors');
  }

  /** A PNG of one panel, checked to be one. */
  async shot(selector: string, name: string): Promise<void> {
    const file = join(this.shots, `${name}.png`);
    await this.page.locator(selector).screenshot({ path: file });
    const png = await readFile(file);
    assert.equal(png.subarray(1, 4).toString(), 'PNG', file);
  }

  state(model: string) {
    return this.page.locator(`#model-list tr[data-model="${model}"] .state`);
  }
}

describe('the web console', () => {
  let dir: string;
  let shots: string;
  let browser: Browser;
  let server: RunningServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'duet-console-'));
    shots = process.env.CONSOLE_SCREENSHOTS ?? join(dir, 'screenshots');
    await mkdir(shots, { recursive: true });
    server = await startTestServer();
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'], timeout: 60_000 });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    killAll();
    await rm(dir, { recursive: true, force: true });
  });

  test('the page and its files: security headers, caching, compression, nothing outside them', async () => {
    const base = baseUrl(server);
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(page.headers.get('content-security-policy'), CSP);
    assert.doesNotMatch(CSP, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const html = await page.text();
    assert.doesNotMatch(html, /<script>|<style>|\sstyle=|\son[a-z]+=|https?:\/\//, 'no inline script or style, nothing from another site');
    const assets = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]);
    assert.equal(assets.length, 3, html);
    const types: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml' };
    for (const a of assets) {
      const r = await fetch(`${base}${a}`);
      assert.equal(r.status, 200, a);
      assert.equal(r.headers.get('content-type'), types[a.slice(a.lastIndexOf('.') + 1)], a);
      assert.equal(r.headers.get('cache-control'), 'public, max-age=31536000, immutable', a);
      const etag = r.headers.get('etag')!;
      await r.arrayBuffer();
      assert.equal((await fetch(`${base}${a}`, { headers: { 'if-none-match': etag } })).status, 304, a);
    }
    const js = assets.find((a) => a.endsWith('.js'))!;
    // Node's fetch asks for gzip and inflates; the raw length says what crossed the wire.
    const gz = await fetch(`${base}${js}`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.headers.get('content-encoding'), 'gzip');
    const plain = await fetch(`${base}${js}`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.headers.get('content-encoding'), null);
    assert.ok(Number(gz.headers.get('content-length')) < Number(plain.headers.get('content-length')) / 2);
    await Promise.all([gz.arrayBuffer(), plain.arrayBuffer()]);
    for (const path of ['/console/assets/../../../package.json', '/console/assets/%2e%2e/%2e%2e/package.json', '/console/assets/..%2f..%2fpackage.json',
      '/console/assets/', '/console/assets/console.js', '/index.html', '/console/src/main.ts', '//etc/passwd', '/console/../package.json']) {
      const r = await fetch(`${base}${path}`);
      assert.equal(r.status, 404, path);
      assert.match(r.headers.get('content-type') ?? '', /application\/json/, path);
      await r.arrayBuffer();
    }
    assert.equal((await fetch(`${base}/`, { method: 'POST' })).status, 404);
  });

  test('the model list renders, with state and live request counts', async () => {
    const tab = await Tab.open(browser, server, shots);
    const index = await (await fetch(`${baseUrl(server)}/v2/repository/index`, { method: 'POST' })).json() as { name: string }[];
    await tab.state('my_model').filter({ hasText: 'READY' }).waitFor();
    assert.equal(await tab.page.locator('#model-list tbody tr').count(), index.length);
    assert.equal(await tab.page.locator('#live').textContent(), 'live');
    assert.equal(await tab.page.locator('#ready').textContent(), 'ready');
    // Model control is off on this server: no load or unload buttons.
    assert.equal(await tab.page.locator('#model-list button').count(), 0);
    await tab.page.locator('#model-list tr[data-model="simple"]').click();
    await tab.page.locator('#model-detail pre.json').filter({ hasText: '"max_batch_size"' }).waitFor();
    await tab.shot('#panel-server', 'server');
    await tab.shot('#panel-models', 'models');
    tab.noErrors();
    await tab.page.close();
  });

  test('try it: my_model with 128 ones answers 128 over REST JSON, REST binary and gRPC-Web', async () => {
    const tab = await Tab.open(browser, server, shots);
    const p = tab.page;
    await p.locator('#try-model option', { hasText: /^my_model$/ }).waitFor({ state: 'attached' });
    await p.selectOption('#try-model', 'my_model');
    const row = p.locator('#panel-try tr[data-input="INPUT0"]');
    assert.equal(await row.locator('input.shape').inputValue(), '1, 128');
    await row.locator('input.value').fill('1');
    for (const protocol of ['json', 'binary', 'grpc-web']) {
      await p.selectOption('#try-protocol', protocol);
      await p.click('#try-run');
      const values = p.locator(`#try-result[data-protocol="${protocol}"] tr[data-output="OUTPUT0"] .values`);
      await values.waitFor();
      assert.equal(await values.textContent(), '128', protocol);
      const sent = await p.locator('#try-sent').textContent();
      // 128 FP32 ones: 512 bytes as binary tensor data (REST or protobuf), '1,' 128 times as JSON text.
      assert.match(sent!, /^\d+ B$/, protocol);
      assert.ok(Number(sent!.split(' ')[0]) >= (protocol === 'json' ? 256 : 512), `${protocol} sent ${sent}`);
      assert.match((await p.locator('#try-latency').textContent())!, /^[\d.]+ ms$/);
      await tab.shot('#panel-try', `try-it-${protocol}`);
    }
    // The charts take the requests from the server's statistics.
    await p.locator('#panel-charts .u-legend').filter({ hasText: 'my_model v1' }).first().waitFor();
    await tab.shot('#panel-charts', 'charts');
    tab.noErrors();
    await p.close();
  });

  for (const transport of ['sse', 'grpc-web']) {
    test(`chat with tiny_gpt over ${transport}: the tokens appear one by one`, async () => {
      const tab = await Tab.open(browser, server, shots);
      const p = tab.page;
      await p.locator('#chat-model option', { hasText: /^tiny_gpt$/ }).waitFor({ state: 'attached' });
      await p.check(`#panel-chat input[value="${transport}"]`);
      await p.fill('#chat-max-tokens', '24');
      // Each change to the answer, as the page makes it: how many tokens it shows.
      await p.evaluate(() => {
        const seen: number[] = [];
        (window as unknown as { seen: number[] }).seen = seen;
        new MutationObserver(() => {
          const n = document.querySelectorAll('#chat-log li:last-child .token').length;
          if (n !== seen[seen.length - 1]) seen.push(n);
        }).observe(document.getElementById('chat-log')!, { childList: true, subtree: true, characterData: true });
      });
      await p.fill('#chat-input', 'This License');
      await p.click('#chat-send');
      await p.locator('#chat-log li .assistant:not(.streaming)').waitFor();
      const seen = await p.evaluate(() => (window as unknown as { seen: number[] }).seen);
      const tokens = await p.locator('#chat-log li:last-child .token').count();
      assert.ok(tokens >= 5, `only ${tokens} tokens`);
      assert.equal(seen[seen.length - 1], tokens);
      // Streaming, not one answer at the end: the count grew over many separate updates.
      assert.ok(seen.filter((n) => n > 0).length >= 5, `the answer grew in ${seen.length} steps: ${seen.join(', ')}`);
      assert.match((await p.locator('#chat-log li:last-child .meta').textContent())!, new RegExp(`tiny_gpt over ${transport === 'sse' ? 'SSE' : 'gRPC-Web'} · ${tokens} tokens`));
      await tab.shot('#panel-chat', `chat-${transport}`);
      tab.noErrors();
      await p.close();
    });
  }

  test('with an API key and model control: the page asks for the key, then loads and unloads', async () => {
    const repo = await scratchRepo(['simple', 'text_echo']);
    const s = await startTestServer(repo.dir, { apiKey: KEY, modelControlMode: 'explicit', loadModels: ['*'], strictReadiness: false, grpcPort: null, metricsPort: null });
    try {
      // The page itself needs no key; its calls do.
      assert.equal((await fetch(`${baseUrl(s)}/`)).status, 200);
      assert.equal((await fetch(`${baseUrl(s)}/console/settings`)).status, 401);
      const settings = await fetch(`${baseUrl(s)}/console/settings`, { headers: { authorization: `Bearer ${KEY}` } });
      assert.deepEqual(await settings.json(), { model_control_mode: 'explicit', generate_model: 'tiny_gpt' });
      const tab = await Tab.open(browser, s, shots);
      tab.allowed = [/status of 401/];
      const p = tab.page;
      await p.locator('#key-form').waitFor();
      await tab.shot('#key-form', 'api-key');
      await p.fill('#api-key', KEY);
      await p.click('#key-form button[type="submit"]');
      await tab.state('text_echo').filter({ hasText: 'READY' }).waitFor();
      tab.allowed = [];
      await p.locator('#model-list tr[data-model="text_echo"] button', { hasText: 'Unload' }).click();
      await tab.state('text_echo').filter({ hasNotText: 'READY' }).waitFor();
      assert.equal((await s.dataPlane.repositoryIndex()).find((e) => e.name === 'text_echo')?.state, 'UNAVAILABLE');
      await p.locator('#model-list tr[data-model="text_echo"] button', { hasText: 'Load' }).click();
      await tab.state('text_echo').filter({ hasText: 'READY' }).waitFor();
      await tab.shot('#panel-models', 'models-control');
      tab.noErrors();
      await p.close();
    } finally {
      await s.stop();
      await repo.cleanup();
    }
  });

  test('--no-console (or DUET_NO_CONSOLE): / answers 404 and the API is unchanged', async () => {
    assert.equal(resolve(SERVE_FLAGS, {}, { DUET_NO_CONSOLE: 'true' }).values['no-console'], true);
    assert.equal(resolve(SERVE_FLAGS, {}, {}).values['no-console'], false);
    const repo = await scratchRepo(['text_echo']);
    try {
      const cli = Cli.serve(repo.dir, ['--no-console']);
      const [, port] = await cli.waitFor(/REST \(KServe v2\) listening on http:\/\/127\.0\.0\.1:(\d+)/, 30_000);
      await cli.waitFor(/access log (on|off)/, 30_000);
      assert.doesNotMatch(cli.stdout, /web console/);
      const r = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(r.status, 404, cli.output);
      assert.equal(typeof (await r.json() as { error: unknown }).error, 'string');
      assert.equal((await fetch(`http://127.0.0.1:${port}/v2/health/live`)).status, 200);
      cli.child.kill('SIGTERM');
      assert.equal((await cli.exit(30_000)).code, 0, cli.output);
      const s = await startTestServer(repo.dir, { console: false, grpcPort: null, metricsPort: null });
      try {
        assert.equal(s.console, false);
        for (const path of ['/', '/console/settings', '/console/assets/x.js']) assert.equal((await fetch(`${baseUrl(s)}${path}`)).status, 404, path);
      } finally {
        await s.stop();
      }
    } finally {
      await repo.cleanup();
    }
  });
});
