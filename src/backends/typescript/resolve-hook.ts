// Model code imports the authoring API as `duet-server/backend`; this resolves that name to the server's own
// module, so a model in a repository outside any Node project (no node_modules to find it in) loads. Both ways
// a model module is loaded: ESM (a resolve hook, registered per thread) and CommonJS (tsx compiles a .ts file
// outside an ESM package to CommonJS, whose require() the ESM hooks do not see).

import Module, { register } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The name a model imports the authoring API by. */
export const API_SPECIFIER = 'duet-server/backend';

const API_URL = new URL('./api.js', import.meta.url).href;

type Resolved = { url: string; shortCircuit?: boolean; format?: string | null };
type NextResolve = (specifier: string, context: unknown) => Resolved | Promise<Resolved>;

/** The ESM resolve hook (this module is also the hooks module `register` loads). */
export function resolve(specifier: string, context: unknown, nextResolve: NextResolve): Resolved | Promise<Resolved> {
  if (specifier === API_SPECIFIER) return { url: API_URL, format: 'module', shortCircuit: true };
  return nextResolve(specifier, context);
}

let installed = false;

/** Once per thread, before the first model module loads. */
export function resolveApiSpecifier(): void {
  if (installed) return;
  installed = true;
  register(import.meta.url);
  const cjs = Module as unknown as { _resolveFilename(request: string, ...rest: unknown[]): string };
  const next = cjs._resolveFilename;
  const path = fileURLToPath(API_URL);
  cjs._resolveFilename = function (request: string, ...rest: unknown[]) {
    return request === API_SPECIFIER ? path : next.call(this, request, ...rest);
  };
}
