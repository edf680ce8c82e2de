// The one table of backends: the names that select each, its default model files, what auto-complete writes
// for it and how an instance starts in its worker. Adding a backend is a folder beside onnx/ and typescript/
// plus one entry here.

import type { BackendSpec } from '../repository/backend-spec.js';
import type { Runner } from './runner.js';

export interface BackendEntry extends BackendSpec {
  /** Loads the backend's code in the worker thread (imported only there, only when used). */
  runner(): Promise<Runner>;
}

export const BACKENDS: readonly BackendEntry[] = [
  {
    kind: 'onnx',
    names: ['onnxruntime', 'onnxruntime_onnx', 'onnx'],
    complete: { backend: 'onnxruntime', platform: 'onnxruntime_onnx' },
    files: ['model.onnx'],
    ownsFile: (name) => /\.onnx$/i.test(name),
    anyName: true,
    runner: async () => new (await import('./onnx/runner.js')).OnnxRunner(),
  },
  {
    kind: 'typescript',
    names: ['typescript', 'javascript'],
    complete: { backend: 'typescript' },
    files: ['model.ts', 'model.mts', 'model.js', 'model.mjs'],
    ownsFile: (name) => /\.[cm]?[jt]s$/.test(name),
    runner: async () => new (await import('./typescript/runner.js')).TypeScriptRunner(),
  },
];

export function backendOfKind(kind: string): BackendEntry | undefined {
  return BACKENDS.find((b) => b.kind === kind);
}
