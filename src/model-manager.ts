// Model lifecycle, in the data-plane layer: read a model from the repository, start its instances,
// complete and check its config against the model file, and swap versions in and out.

import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { ModelConfig, QueuePolicyConfig } from './core/model-config.js';
import { ModelStats } from './metrics/statistics.js';
import { invalidArg, notFound, unavailable } from './core/errors.js';
import type { LoadSpec, ModelInstance } from './backends/backend.js';
import { WorkerInstance } from './backends/worker-instance.js';
import { Scheduler, type QueuePolicy, type SchedulerOptions } from './scheduler/scheduler.js';
import { applyDefaults, parseModelConfig, validateModelConfig } from './repository/config.js';
import { checkAgainstModel, completeConfig } from './repository/complete.js';
import {
  checkConfigPaths, findModelFile, listRepositories, readLabels, readModelSource, repositoryOf, selectVersions,
} from './repository/layout.js';
import type { ModelPlace } from './repository/contain.js';
import { openRepositories, rootDir, type RepositoryRoot } from './repository/single-model.js';
import { unhonouredOptimizations, warmupSamples } from './repository/warmup.js';
import { BACKENDS, backendOfKind } from './backends/registry.js';
import { warmUp } from './backends/warmup.js';
import { ModelPoller } from './model-poller.js';
import type { LogFn } from './core/log.js';

export type ModelState = 'READY' | 'UNAVAILABLE' | 'LOADING' | 'UNLOADING';

/** Triton's model control modes: who may load and unload models after start. */
export type ModelControlMode = 'none' | 'explicit' | 'poll';
export const MODEL_CONTROL_MODES: readonly ModelControlMode[] = ['none', 'explicit', 'poll'];

/** Instances one model's config may ask for: enough for any real use, too few to exhaust the machine. */
export const DEFAULT_MAX_INSTANCES = 4 * availableParallelism();
/** Triton's default interval between repository polls. */
export const DEFAULT_POLL_SECS = 15;

export interface ServedVersion {
  name: string;
  version: string;
  config: ModelConfig;
  scheduler: Scheduler;
  /** Class labels per output name, from label_filename. */
  labels: Map<string, string[]>;
  stats: ModelStats;
}

function queuePolicy(p: QueuePolicyConfig | undefined): QueuePolicy {
  return {
    maxQueueSize: Number(p?.max_queue_size ?? 0),
    defaultTimeoutUs: Number(p?.default_timeout_microseconds ?? 0),
    allowTimeoutOverride: p?.allow_timeout_override ?? false,
    timeoutAction: p?.timeout_action === 'DELAY' ? 'DELAY' : 'REJECT',
  };
}

/** The scheduler's settings from dynamic_batching: batching itself, priorities and queue policies. */
export function schedulerOptions(cfg: ModelConfig): SchedulerOptions {
  const db = cfg.dynamic_batching;
  if (!db) return {};
  const levelPolicies = new Map<number, QueuePolicy>();
  for (const [level, p] of Object.entries(db.priority_queue_policy ?? {})) levelPolicies.set(Number(level), queuePolicy(p));
  return {
    batching: cfg.max_batch_size > 0
      ? { maxBatchSize: cfg.max_batch_size, preferred: db.preferred_batch_size ?? [], maxDelayMs: Number(db.max_queue_delay_microseconds ?? 0) / 1000 }
      : undefined,
    priorityLevels: Number(db.priority_levels ?? 0),
    defaultPriority: Number(db.default_priority_level ?? 0),
    policy: queuePolicy(db.default_queue_policy),
    levelPolicies,
  };
}

interface ModelEntry {
  name: string;
  state: ModelState;
  reason: string;
  versions: Map<string, ServedVersion>;
  /** Versions that failed, with why. */
  failed: Map<string, string>;
  /** Serialises load/unload of one model. */
  busy: Promise<void>;
  /** Loads queued or running on this entry. */
  loads: number;
  /** The last load found no folder of this name in the repository. */
  absent: boolean;
}

export interface IndexEntry {
  name: string;
  version: string;
  state: ModelState;
  reason: string;
}

export interface ModelManagerOptions {
  /** Start instances; tests may swap in their own. */
  startInstance?: (spec: LoadSpec) => Promise<ModelInstance>;
  log?: LogFn;
  /** Default 'none': every model loads at start and the load/unload API is refused. */
  controlMode?: ModelControlMode;
  /** 'explicit' mode: the models to load at start ('*' for all); none when absent, as in Triton. */
  loadModels?: string[];
  /** 'poll' mode: seconds between repository scans (fractions allowed). */
  pollSecs?: number;
  /** A config whose instance_group counts add up above this is refused. */
  maxInstancesPerModel?: number;
  /** How long an unload (or reload) lets the model's open streams run before ending them. */
  unloadGraceMs?: number;
  /** A repository folder that holds one model (a model folder, a bare model file) serves it under this name. */
  modelName?: string;
}

/** The grace period open streams get when their model is unloaded, and (by default) at shutdown. */
export const DEFAULT_GRACE_MS = 30_000;

/** Emits 'change' whenever a model's state changes. */
export class ModelManager extends EventEmitter {
  private readonly models = new Map<string, ModelEntry>();
  private readonly startInstance: (spec: LoadSpec) => Promise<ModelInstance>;
  private readonly log: LogFn;
  readonly controlMode: ModelControlMode;
  readonly maxInstances: number;
  private readonly loadModels: string[];
  private readonly pollSecs: number;
  private poller: ModelPoller | undefined;
  private readonly graceMs: number;
  private readonly modelName: string | undefined;

  /** The model repositories, searched together; a model name may be in only one. start() finds which hold one model. */
  repoDirs: readonly RepositoryRoot[];

  constructor(repo: string | readonly string[], opts: ModelManagerOptions = {}) {
    super();
    this.repoDirs = typeof repo === 'string' ? [repo] : [...repo];
    if (this.repoDirs.length === 0) throw new Error('no model repository given');
    this.setMaxListeners(0);
    this.startInstance = opts.startInstance ?? ((spec) => WorkerInstance.start(spec));
    this.log = opts.log ?? (() => {});
    this.controlMode = opts.controlMode ?? 'none';
    this.loadModels = opts.loadModels ?? [];
    this.pollSecs = opts.pollSecs ?? DEFAULT_POLL_SECS;
    this.maxInstances = opts.maxInstancesPerModel ?? DEFAULT_MAX_INSTANCES;
    this.graceMs = opts.unloadGraceMs ?? DEFAULT_GRACE_MS;
    this.modelName = opts.modelName;
  }

  /** The start-up loads of the control mode; in 'poll' mode, also starts watching the repository. */
  async start(): Promise<void> {
    this.repoDirs = await openRepositories(this.repoDirs.map(rootDir), this.modelName, BACKENDS, (line) => this.log(line));
    const all = await listRepositories(this.repoDirs); // a missing repository fails here, in every mode
    if (this.controlMode === 'poll') {
      this.poller = new ModelPoller(this, this.pollSecs * 1000, this.log);
      await this.poller.start();
      return;
    }
    const names = this.controlMode === 'explicit' && !this.loadModels.includes('*') ? [...new Set(this.loadModels)] : all;
    await Promise.all(names.map((n) => this.load(n).catch(() => {})));
  }

  /** Load every model in the repository; a broken model is marked UNAVAILABLE and the rest still load. */
  async loadAll(): Promise<void> {
    const names = await listRepositories(this.repoDirs);
    await Promise.all(names.map((n) => this.load(n).catch(() => {})));
  }

  /** Load or reload a model; `configOverride` (JSON text) replaces its config file, as Triton's load API allows. */
  load(name: string, configOverride?: string): Promise<void> {
    const entry = this.entry(name);
    entry.loads++;
    const run = entry.busy.then(() => this.doLoad(entry, configOverride)).finally(() => {
      // A failed load of a name the repository does not hold leaves no entry behind, so it shows in
      // neither the index nor strict readiness.
      if (--entry.loads === 0 && entry.absent && this.models.get(name) === entry) this.models.delete(name);
      this.emit('change');
    });
    entry.busy = run.catch(() => {});
    return run;
  }

  /**
   * Unload every version of a model: requests in flight finish; streams still open after the grace
   * period are ended with UNAVAILABLE saying why.
   */
  unload(name: string, graceMs = this.graceMs, why = 'is unloading', force = false): Promise<void> {
    const entry = this.models.get(name);
    if (!entry) return Promise.reject(notFound(`failed to unload '${name}': no such model in the repository`));
    const run = entry.busy.then(async () => {
      const old = [...entry.versions.values()];
      entry.state = 'UNLOADING';
      entry.versions = new Map();
      const ended = (await Promise.all(old.map((v) => v.scheduler.close(graceMs, why, force)))).reduce((a, b) => a + b, 0);
      entry.state = 'UNAVAILABLE';
      entry.reason = 'unloaded';
      entry.failed.clear();
      this.log(`model '${name}' unloaded${ended ? ` (${ended} stream${ended === 1 ? '' : 's'} still open after the ${graceMs / 1000} s grace period ended)` : ''}`);
      // A model whose folder is gone leaves the index too.
      if (!(await this.inRepository(name)) && entry.loads === 0 && this.models.get(name) === entry) this.models.delete(name);
    }).finally(() => this.emit('change'));
    entry.busy = run.catch(() => {});
    return run;
  }

  private inRepository(name: string): Promise<boolean> {
    return listRepositories(this.repoDirs).then((names) => names.includes(name), () => false);
  }

  private entry(name: string): ModelEntry {
    let e = this.models.get(name);
    if (!e) {
      e = { name, state: 'LOADING', reason: '', versions: new Map(), failed: new Map(), busy: Promise.resolve(), loads: 0, absent: false };
      this.models.set(name, e);
    }
    return e;
  }

  private async doLoad(entry: ModelEntry, configOverride?: string): Promise<void> {
    const { name } = entry;
    const previous = entry.versions;
    // A model that serves keeps serving (and stays READY) while its replacement loads.
    if (previous.size === 0) entry.state = 'LOADING';
    entry.absent = false;
    const failed = new Map<string, string>();
    let fresh = new Map<string, ServedVersion>();
    try {
      if (!/^[^/\\\0]+$/.test(name) || name === '.' || name === '..') throw new Error(`'${name}' is not a valid model name`);
      const repoDir = await repositoryOf(this.repoDirs, name);
      const source = await readModelSource(repoDir, name, this.maxInstances);
      if (configOverride !== undefined) {
        source.config = applyDefaults(parseModelConfig(configOverride, 'json', `${name} (load request config)`), name, this.maxInstances);
      }
      const place: ModelPlace = { model: name, repoDir: rootDir(repoDir), modelDir: source.dir };
      checkConfigPaths(source.config, place);
      const base = source.config ?? this.defaultConfig(name);
      this.checkInstanceCount(name, base);
      if (source.versions.length === 0) throw new Error(`no version folders (e.g. '${name}/1/') in ${source.dir}`);
      const chosen = selectVersions(base, source.versions);
      if (chosen.length === 0) throw new Error(`version_policy selects none of the versions on disk (${source.versions.join(', ')})`);
      const results = await Promise.all(chosen.map(async (v) => {
        try {
          return await this.loadVersion(place, String(v), source.config, source.flat ? source.file : undefined);
        } catch (e) {
          failed.set(String(v), (e as Error).message);
          return undefined;
        }
      }));
      for (const sv of results) if (sv) fresh.set(sv.version, sv);
      if (fresh.size === 0) throw new Error([...failed.entries()].map(([v, r]) => `version ${v}: ${r}`).join('; '));
    } catch (e) {
      const reason = (e as Error).message;
      for (const sv of fresh.values()) await sv.scheduler.close();
      fresh = new Map();
      if (previous.size > 0) {
        // As Triton: a reload that fails leaves the loaded model as it was.
        this.log(`model '${name}' reload failed; version${previous.size > 1 ? 's' : ''} ${[...previous.keys()].join(', ')} keep${previous.size > 1 ? '' : 's'} serving: ${reason}`, 'warn');
        throw invalidArg(`failed to load '${name}': ${reason}`);
      }
      entry.state = 'UNAVAILABLE';
      entry.reason = reason;
      entry.failed = failed;
      entry.versions = new Map();
      entry.absent = !(await this.inRepository(name));
      this.log(`model '${name}' UNAVAILABLE: ${entry.reason}`, 'warn');
      // Triton answers a failed load as a bad request (400), not as an unavailable server.
      throw invalidArg(`failed to load '${name}': ${entry.reason}`);
    }
    const unhonoured = unhonouredOptimizations([...fresh.values()][0]!.config);
    if (unhonoured.length) this.log(`model '${name}': optimization settings Duet does not apply (accepted, ignored): ${unhonoured.join(', ')}`, 'warn');
    entry.versions = fresh;
    entry.failed = failed;
    entry.state = 'READY';
    entry.reason = '';
    // Old versions finish what they hold after the new ones take traffic.
    await Promise.all([...previous.values()].map((v) => v.scheduler.close(this.graceMs, 'is being replaced by a reload')));
    const failedNote = [...failed.entries()].map(([v, r]) => `; version ${v} UNAVAILABLE: ${r}`).join('');
    this.log(`model '${name}' READY (version${fresh.size > 1 ? 's' : ''} ${[...fresh.keys()].join(', ')})${failedNote}`);
  }

  /** The config of a model folder that has none, before auto-complete. */
  private defaultConfig(name: string): ModelConfig {
    return applyDefaults({ name } as ModelConfig, name, this.maxInstances);
  }

  /** Each instance is a worker thread: a config (or a load request) may not ask for more than the cap. */
  private checkInstanceCount(name: string, cfg: ModelConfig): void {
    const total = (cfg.instance_group ?? []).reduce((n, g) => n + Number(g.count ?? 1), 0);
    if (total > this.maxInstances) {
      throw invalidArg(`model '${name}': instance_group counts add up to ${total} instances, above the limit of ${this.maxInstances} per model (--max-instances-per-model)`);
    }
  }

  /** `flatFile` set: a single model without version folders, whose folder is the version's and holds this file. */
  private async loadVersion(place: ModelPlace, version: string, config: ModelConfig | undefined, flatFile?: string): Promise<ServedVersion> {
    const { model: name, modelDir } = place;
    const versionDir = flatFile === undefined ? join(modelDir, version) : modelDir;
    const { kind, file } = await findModelFile(config, versionDir, place, BACKENDS, flatFile);
    const base: ModelConfig = config ?? this.defaultConfig(name);
    const groups = base.instance_group ?? [{ kind: 'KIND_CPU', count: 1 }];
    const specs: LoadSpec[] = [];
    for (const [gi, g] of groups.entries()) {
      for (let i = 0; i < (g.count ?? 1); i++) {
        specs.push({
          kind, modelName: name, version, modelDir, versionDir, modelFile: file, config: base,
          instanceName: `${g.name || `${name}_${gi}`}_${i}`, gpu: g.kind === 'KIND_GPU',
        });
      }
    }
    const instances: ModelInstance[] = [];
    try {
      // The first instance tells what the model file declares; the config is completed and checked from it.
      const first = await this.startInstance({ ...specs[0], config: base });
      instances.push(first);
      const completed = completeConfig(config, name, first.loadResult, backendOfKind(kind)!, this.maxInstances);
      validateModelConfig(completed);
      checkAgainstModel(completed, first.loadResult);
      for (const note of first.loadResult.notes ?? []) this.log(`model '${name}' version ${version}: ${note}`);
      instances.push(...(await Promise.all(specs.slice(1).map((s) => this.startInstance({ ...s, config: completed })))));
      const labels = new Map<string, string[]>();
      for (const o of completed.output) {
        if (o.label_filename) labels.set(o.name, await readLabels(place, o.name, o.label_filename));
      }
      // As Triton: each instance runs the warmup samples before the version takes requests.
      const samples = await warmupSamples(completed, place);
      await Promise.all(instances.map((inst) => warmUp(inst, samples, completed.model_transaction_policy?.decoupled === true)));
      const stats = new ModelStats();
      const scheduler = new Scheduler(`model '${name}' version ${version}`, instances, { ...schedulerOptions(completed), stats });
      return { name, version, config: completed, scheduler, labels, stats };
    } catch (e) {
      await Promise.all(instances.map((i) => i.close().catch(() => {})));
      throw e;
    }
  }

  /** A servable version: the given one, or the highest loaded. */
  get(name: string, version?: string): ServedVersion {
    const entry = this.models.get(name);
    if (!entry) throw notFound(`unknown model '${name}'`);
    if (version !== undefined && version !== '') {
      const sv = entry.versions.get(version);
      if (sv) return sv;
      if (entry.failed.has(version)) throw unavailable(`model '${name}' version ${version} is not available: ${entry.failed.get(version)}`);
      throw notFound(`unknown version '${version}' of model '${name}'${entry.versions.size ? `; loaded versions: ${[...entry.versions.keys()].join(', ')}` : ''}`);
    }
    if (entry.versions.size === 0) {
      throw unavailable(`model '${name}' is not ready (${entry.state.toLowerCase()}${entry.reason ? `: ${entry.reason}` : ''})`);
    }
    const latest = [...entry.versions.keys()].sort((a, b) => Number(b) - Number(a))[0];
    return entry.versions.get(latest)!;
  }

  /** Every loaded version of every model. */
  allLoaded(): ServedVersion[] {
    return [...this.models.values()].flatMap((e) => [...e.versions.values()]).sort((a, b) => a.name.localeCompare(b.name) || Number(a.version) - Number(b.version));
  }

  /** Loaded version labels of a model, ascending. */
  loadedVersions(name: string): string[] {
    const e = this.models.get(name);
    return e ? [...e.versions.keys()].sort((a, b) => Number(a) - Number(b)) : [];
  }

  has(name: string): boolean {
    return this.models.has(name);
  }

  isReady(name: string, version?: string): boolean {
    try {
      this.get(name, version);
      return true;
    } catch {
      return false;
    }
  }

  /** Every model the repositories hold or the server has seen, with its state. */
  async index(readyOnly = false): Promise<IndexEntry[]> {
    const names = new Set(await listRepositories(this.repoDirs).catch(() => [] as string[]));
    for (const n of this.models.keys()) names.add(n);
    const out: IndexEntry[] = [];
    for (const name of [...names].sort()) {
      const e = this.models.get(name);
      if (!e) {
        if (!readyOnly) out.push({ name, version: '', state: 'UNAVAILABLE', reason: 'not loaded' });
        continue;
      }
      for (const v of e.versions.keys()) out.push({ name, version: v, state: e.state, reason: '' });
      if (readyOnly) continue;
      for (const [v, r] of e.failed) if (!e.versions.has(v)) out.push({ name, version: v, state: 'UNAVAILABLE', reason: r });
      if (e.versions.size === 0 && e.failed.size === 0) out.push({ name, version: '', state: e.state, reason: e.reason });
    }
    return readyOnly ? out.filter((x) => x.state === 'READY') : out;
  }

  /** True when every model the server tried to load is ready (Triton's strict readiness). */
  allReady(): boolean {
    for (const e of this.models.values()) {
      if (e.state === 'LOADING') return false;
      if (e.state === 'UNAVAILABLE' && e.reason !== 'unloaded') return false;
    }
    return true;
  }

  /** Unload every model (at shutdown): what is still running after `graceMs` is not waited for. */
  async close(graceMs = this.graceMs): Promise<void> {
    await this.poller?.stop();
    await Promise.all([...this.models.keys()].map((n) => this.unload(n, graceMs, 'is unloading: the server is shutting down', true).catch(() => {})));
  }
}

