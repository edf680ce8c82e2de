// Model code imports the authoring API as `duet-server/backend`; this resolves that name to the server's own
// module, so a model in a repository outside any Node project (no node_modules to find it in) loads. Other
// packages such a model imports (onnxruntime-node, say) are looked for where the model is first, then in
// Duet's own node_modules, so a model in /mnt/models can use what Duet ships. Both ways a model module is
// loaded: ESM (a resolve hook, registered per thread) and CommonJS (tsx compiles a .ts file outside an ESM
// package to CommonJS, whose require() the ESM hooks do not see).

import Module, { register } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The name a model imports the authoring API by. */
export const API_SPECIFIER = 'duet-server/backend';

const API_URL = new URL('./api.js', import.meta.url).href;

/** A package name (with an optional subpath), not a relative, absolute, URL or builtin specifier. */
export const isBare = (specifier: string) => !/^(\.{1,2}(\/|\\|$)|\/|\\|[a-zA-Z][a-zA-Z\d+.-]*:)/.test(specifier);

type Resolved = { url: string; shortCircuit?: boolean; format?: string | null };
type Context = { parentURL?: string };
type NextResolve = (specifier: string, context: Context) => Resolved | Promise<Resolved>;

/** The ESM resolve hook (this module is also the hooks module `register` loads). */
export async function resolve(specifier: string, context: Context, nextResolve: NextResolve): Promise<Resolved> {
  if (specifier === API_SPECIFIER) return { url: API_URL, format: 'module', shortCircuit: true };
  try {
    return await nextResolve(specifier, context);
  } catch (e) {
    if (!isBare(specifier) || (e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw e;
    // Resolved as if Duet imported it; when Duet has no such package either, the model's own error stands.
    try {
      return await nextResolve(specifier, { ...context, parentURL: import.meta.url });
    } catch {
      throw e;
    }
  }
}

let installed = false;

type ResolveFilename = (request: string, parent: unknown, ...rest: unknown[]) => string;

/** Once per thread, before the first model module loads. */
export function resolveApiSpecifier(): void {
  if (installed) return;
  installed = true;
  register(import.meta.url);
  const cjs = Module as unknown as { _resolveFilename: ResolveFilename; _nodeModulePaths(dir: string): string[] };
  const next = cjs._resolveFilename;
  const path = fileURLToPath(API_URL);
  // A stand-in parent module in Duet's own folder: require() from there searches Duet's node_modules.
  const self = fileURLToPath(import.meta.url);
  const duet = { id: self, filename: self, paths: cjs._nodeModulePaths(dirname(self)) };
  cjs._resolveFilename = function (request: string, parent: unknown, ...rest: unknown[]) {
    if (request === API_SPECIFIER) return path;
    try {
      return next.call(this, request, parent, ...rest);
    } catch (e) {
      if (!isBare(request) || (e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND' || parent === duet) throw e;
      try {
        return next.call(this, request, duet, ...rest);
      } catch {
        throw e;
      }
    }
  };
}
