// `duet --version`: the version of the package this file ships in, read from its package.json at run time.

import { readFileSync } from 'node:fs';

/** dist/src/cli/version.js -> the package root. */
const PACKAGE_JSON = new URL('../../../package.json', import.meta.url);

export function versionText(): string {
  const pkg = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { name: string; version: string };
  return `duet ${pkg.version} (${pkg.name}; Node.js ${process.version})\n`;
}
