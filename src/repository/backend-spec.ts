// What the repository layer knows of a backend: the names that select it, its default model file names and
// what auto-complete writes for it. The table itself is src/backends/registry.ts, handed down by the model
// manager, so this layer imports nothing from above it.

export interface BackendSpec {
  /** The key a worker starts an instance by (LoadSpec.kind). */
  kind: string;
  /** `backend` and `platform` values that select it (lower case). */
  names: readonly string[];
  /** What auto-complete writes for a model with neither `backend` nor `platform`. */
  complete: { backend: string; platform?: string };
  /** Model file names looked for in a version folder, in order. */
  files: readonly string[];
  /** Whether a `default_model_filename` looks like this backend's (when the config names no backend). */
  ownsFile(name: string): boolean;
  /**
   * A model is one self-contained file, which may have any name this backend owns (a bare `digits.onnx`
   * as KServe downloads it); otherwise only the default names mark a folder as a model (model code may
   * sit beside helper modules).
   */
  anyName?: boolean;
}
