// The web console (console/): type-checked, bundled with esbuild into dist/console/assets under
// content-hashed names, and its index.html written to point at them. No CDN: everything it loads is here.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { build } from 'esbuild';

const root = new URL('../', import.meta.url).pathname;
const out = `${root}dist/console`;
const assets = `${out}/assets`;

execFileSync(`${root}node_modules/.bin/tsc`, ['-p', `${root}console/tsconfig.json`], { stdio: 'inherit' });
mkdirSync(assets, { recursive: true });
const result = await build({
  entryPoints: { console: `${root}console/src/main.ts` },
  bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2022',
  outdir: assets, entryNames: '[name]-[hash]', metafile: true, legalComments: 'none', logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs);
const named = (ext) => `/console/assets/${basename(outputs.find((f) => f.endsWith(ext)))}`;

const icon = readFileSync(`${root}console/favicon.svg`);
const iconName = `favicon-${createHash('sha256').update(icon).digest('hex').slice(0, 8)}.svg`;
writeFileSync(`${assets}/${iconName}`, icon);

const page = readFileSync(`${root}console/index.html`, 'utf8')
  .replace('%JS%', named('.js')).replace('%CSS%', named('.css')).replace('%FAVICON%', `/console/assets/${iconName}`);
writeFileSync(`${out}/index.html`, page);
