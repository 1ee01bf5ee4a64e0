/**
 * Picks and initialises the tfjs backend a trial trains on: `tensorflow` (tfjs-node and
 * libtensorflow), `wasm` (@tensorflow/tfjs-backend-wasm, SIMD, single-threaded in Node) or
 * `cpu` (pure JS). Works in the main thread and in worker threads.
 *
 * Two process-wide facts shape this module:
 * - libtensorflow sizes its thread pools from TF_NUM_INTRAOP_THREADS /
 *   TF_NUM_INTEROP_THREADS, read from the C environment when a thread's TF context is
 *   created. A worker's `process.env` is a private copy that native code never sees, so
 *   the values must be set in the main thread before any thread loads the addon.
 * - When every thread that loaded the addon has exited and a new thread loads it, the
 *   process aborts (duplicate XLA_CPU device registration). Keeping the addon loaded in
 *   the main thread prevents that; {@link loadBackend} does it when called on the main
 *   thread and {@link keepNativeResident} does it explicitly. Worker threads only use
 *   tfjs-node when the main thread has it resident.
 *
 * What gets loaded where (memory and start-up time, issue 8):
 * - The main thread of `hpo run` only needs the addon resident: {@link prepareBackend}
 *   loads the bare binding (libtensorflow and the .node file), not the tfjs bundle.
 * - A worker thread that trains the built-in models loads `lean`: tfjs-core, tfjs-node's
 *   kernel backend and its kernel registrations, without tfjs-layers, -converter and
 *   -data, which training never uses ({@link loadBackend} with `lean: true`).
 * - The dataset's float layout is built once per process in shared memory; libtensorflow
 *   wraps it without a copy when its start is aligned, which {@link zeroCopyOffset} finds.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname, join } from 'node:path';
import { onMainThread } from '../worker/thread-role.js';
import { BackendError, UsageError, errorMessage } from '../errors.js';
import { loadHpoKernels, routeMatMul, type HpoKernelsStatus } from './hpo-kernels.js';

/** The tfjs namespace every backend shares (tfjs-node re-exports the same instance). */
export type Tf = typeof tfTypes;

/** Backends this engine can train on, fastest first. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

/** All backend names, in the order `auto` tries them. */
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

/** Options of {@link loadBackend}. */
export interface BackendOptions {
  /** libtensorflow intra-op pool size per thread's TF context. Default 1. */
  intraOpThreads?: number | undefined;
  /** libtensorflow inter-op pool size per thread's TF context. Default 1. */
  interOpThreads?: number | undefined;
  /**
   * Load only what training needs: for `tensorflow`, tfjs-core plus tfjs-node's kernel
   * backend (no tfjs-layers, -converter or -data; about 90 ms and 18 MB less per thread).
   * The returned namespace is then tfjs-core's. Default false (the whole tfjs bundle).
   */
  lean?: boolean | undefined;
}

/** Versions of what is actually running. */
export interface BackendVersions {
  /** @tensorflow/tfjs version. */
  tfjs: string;
  /** @tensorflow/tfjs-node version, when the backend is `tensorflow`. */
  tfjsNode?: string;
  /** TF_Version() of the loaded libtensorflow, when the backend is `tensorflow`. */
  libtensorflow?: string;
  /** @tensorflow/tfjs-backend-wasm version, when the backend is `wasm`. */
  tfjsBackendWasm?: string;
}

/** libtensorflow pool sizes in effect (the values the C environment had at first load). */
export interface NativeThreads {
  intraOp: number;
  interOp: number;
}

/** Result of {@link loadBackend}. */
export interface LoadedBackend {
  /** The tfjs namespace, with `name` as its active backend. */
  tf: Tf;
  /** The backend actually in use. */
  name: BackendName;
  versions: BackendVersions;
  /** libtensorflow pool sizes, when the backend is `tensorflow`. */
  threads?: NativeThreads;
  /** One line saying why `auto` did not get the fastest backend, or why options were ignored. */
  warning?: string;
}

/** How tfjs-node got installed, from the marker scripts/install-native.mjs writes. */
export type NativeInstallSource = 'official' | 'fallback-build' | 'unknown' | 'not-installed';

/** What `hpo info` shows about backends; see {@link describeBackend}. */
export interface BackendDescription {
  /** Active backend, when one was loaded. */
  backend: BackendName | null;
  versions: Partial<BackendVersions>;
  /** `official`: tfjs-node's own install (libtensorflow 2.9.1 download); `fallback-build`: built by scripts/install-native.mjs against libtensorflow 1.15. */
  nativeInstall: NativeInstallSource;
  /** libtensorflow version recorded at install time, if any. */
  nativeInstallLibtensorflow?: string;
  /** Pool sizes in effect (or that will be used at first load). */
  threads: NativeThreads;
  /** Whether the addon is loaded in this process's main thread. */
  nativeResident: boolean;
  /** tfjs-hpo's GEMM kernels (src/native) in this thread, once the tensorflow backend loaded. */
  kernels?: HpoKernelsStatus;
}

const require = createRequire(import.meta.url);

/**
 * Real env var the main thread sets (to its pid, so child processes that inherit it are
 * not fooled) once the addon is resident; workers inherit it.
 */
const RESIDENT_ENV = 'TFJS_HPO_NATIVE_RESIDENT';
const INTRA_ENV = 'TF_NUM_INTRAOP_THREADS';
const INTER_ENV = 'TF_NUM_INTEROP_THREADS';
const MARKER_FILE = 'tfjs-hpo-native.json';

interface TfjsNodeModule {
  version: Record<string, string>;
}
/** The parts of tfjs-node's binding (binding/tfjs_binding.cc) this module calls. */
interface NativeBinding {
  TF_Version?: string;
  TF_FLOAT: number;
  createTensor(shape: number[], dtype: number, values: Float32Array): number;
  tensorDataSync(id: number): Float32Array;
  deleteTensor(id: number): void;
}
type KernelBackendCtor = new (binding: NativeBinding, packageName: string) => unknown;

let tfjsNode: TfjsNodeModule | undefined;
/** The addon, once loaded in this thread (by any path). */
let binding: NativeBinding | undefined;
/** tfjs-core with tfjs-node's backend registered, once loaded lean in this thread. */
let leanTf: Tf | undefined;
let nativeLoadError: string | undefined;
let threadsAtLoad: NativeThreads | undefined;

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${name} must be a positive integer, got ${String(value)}`);
  return value;
}

function envInt(name: string): number | undefined {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : undefined;
}

function requestedThreads(opts: BackendOptions): NativeThreads {
  return {
    intraOp: positiveInt('intraOpThreads', opts.intraOpThreads, envInt(INTRA_ENV) ?? 1),
    interOp: positiveInt('interOpThreads', opts.interOpThreads, envInt(INTER_ENV) ?? 1),
  };
}

function loadTfjs(): Tf {
  return require('@tensorflow/tfjs') as Tf;
}

/**
 * Where tfjs-node's own loader (node-pre-gyp's find, in its index.js) finds the addon: the
 * package's binary.module_path with {napi_build_version} the highest of its napi_versions
 * this Node.js supports. Resolved here without node-pre-gyp, whose modules (npmlog, semver,
 * ...) cost every thread about 40 ms to load; node-pre-gyp decides when the package names
 * something else or the file is not where expected.
 */
function bindingPath(): string {
  const pkgPath = require.resolve('@tensorflow/tfjs-node/package.json');
  const pkg = require(pkgPath) as { binary?: { module_name?: unknown; module_path?: unknown; napi_versions?: unknown } };
  const { module_name: name, module_path: dir, napi_versions: versions } = pkg.binary ?? {};
  const napi = Number(process.versions.napi);
  if (typeof name === 'string' && typeof dir === 'string' && Array.isArray(versions)) {
    const usable = versions.filter((v): v is number => typeof v === 'number' && v <= napi);
    if (usable.length > 0 && /^[./\w-]*\{napi_build_version\}[./\w-]*$/.test(dir)) {
      const file = join(dirname(pkgPath), dir.replace('{napi_build_version}', String(Math.max(...usable))), `${name}.node`);
      if (existsSync(file)) return file;
    }
  }
  const preGyp = require('@mapbox/node-pre-gyp') as { find(packageJson: string): string };
  return preGyp.find(pkgPath);
}

/**
 * Checks whether this thread may load the addon and, on the main thread, sets the
 * libtensorflow environment first. Returns the refusal, if any.
 */
function beforeNativeLoad(threads: NativeThreads): string | undefined {
  if (!onMainThread() && process.env[RESIDENT_ENV] !== String(process.pid)) {
    // Not cached: the main thread may make it resident later for new workers only.
    return 'tfjs-node is not resident in the main thread (call keepNativeResident() or loadBackend() there before starting workers)';
  }
  // Once the addon is loaded, the pool sizes are fixed: leave the environment that workers'
  // TF contexts will read as it was.
  if (onMainThread() && !binding) {
    process.env[INTRA_ENV] = String(threads.intraOp);
    process.env[INTER_ENV] = String(threads.interOp);
    // TF's C++ start-up chatter (AVX2/FMA notice, device lines); warnings and errors stay.
    process.env['TF_CPP_MIN_LOG_LEVEL'] ??= '2';
  }
  return undefined;
}

/** Bookkeeping once the addon is loaded in this thread. */
function afterNativeLoad(threads: NativeThreads): void {
  // Pools were sized from the C environment as it is now; in a worker that is the main
  // thread's setting, whatever this thread asked for.
  threadsAtLoad ??= { intraOp: envInt(INTRA_ENV) ?? threads.intraOp, interOp: envInt(INTER_ENV) ?? threads.interOp };
  if (onMainThread()) process.env[RESIDENT_ENV] = String(process.pid);
  // Our GEMM ops (src/native): registered in libtensorflow once per process, before any
  // worker runs an op; kept loaded in the main thread like the binding itself.
  loadHpoKernels();
}

function nativeLoadFailure(e: unknown): string {
  return /Cannot find module '@tensorflow\/tfjs-node/.test(errorMessage(e))
    ? '@tensorflow/tfjs-node is not installed (run npm install; see scripts/install-native.mjs)'
    : `tfjs-node failed to load: ${errorMessage(e)}`;
}

/**
 * Loads only the addon (libtensorflow and tfjs-node's .node file), which is all the main
 * thread needs to keep it resident: no tfjs JavaScript at all.
 */
function loadBindingOnly(threads: NativeThreads): string | undefined {
  if (binding) return undefined;
  if (nativeLoadError !== undefined) return nativeLoadError;
  const refused = beforeNativeLoad(threads);
  if (refused !== undefined) return refused;
  try {
    binding = require(bindingPath()) as NativeBinding;
  } catch (e) {
    nativeLoadError = nativeLoadFailure(e);
    return nativeLoadError;
  }
  afterNativeLoad(threads);
  return undefined;
}

/**
 * tfjs-core plus tfjs-node's kernel backend, without the rest of the tfjs bundle.
 *
 * tfjs-node's files import everything from `@tensorflow/tfjs`, but its backend and kernels
 * only use what tfjs-core exports (the union package re-exports the same core instance).
 * While those files load, the union package's entry in the module cache is tfjs-core
 * itself; the entry is removed again afterwards, so a later `require('@tensorflow/tfjs')`
 * (a user objective importing tfjs-node, say) gets the real bundle, on the same engine.
 */
function loadTfjsNodeLean(threads: NativeThreads): Tf | string {
  if (leanTf) return leanTf;
  const err = loadBindingOnly(threads);
  if (err !== undefined) return err;
  const core = require('@tensorflow/tfjs-core') as Tf & { registerBackend: Tf['registerBackend'] };
  try {
    const nodeRequire = createRequire(require.resolve('@tensorflow/tfjs-node/package.json'));
    const unionPath = nodeRequire.resolve('@tensorflow/tfjs');
    const stubbed = require.cache[unionPath] === undefined;
    if (stubbed) {
      const stub = new Module(unionPath);
      stub.filename = unionPath;
      stub.loaded = true;
      stub.exports = core;
      require.cache[unionPath] = stub;
    }
    let Backend: KernelBackendCtor;
    try {
      nodeRequire('./dist/register_all_kernels.js');
      Backend = (nodeRequire('./dist/nodejs_kernel_backend.js') as { NodeJSKernelBackend: KernelBackendCtor }).NodeJSKernelBackend;
    } finally {
      if (stubbed) delete require.cache[unionPath];
    }
    const native = binding!;
    // Same registration as tfjs-node's index.js (name, priority); a later full load of
    // tfjs-node finds it registered and reuses it.
    if (!core.findBackendFactory('tensorflow')) {
      core.registerBackend('tensorflow', () => new Backend(native, '@tensorflow/tfjs-node') as ReturnType<Parameters<Tf['registerBackend']>[1]>, 3);
    }
  } catch (e) {
    return `tfjs-node's kernel backend failed to load: ${errorMessage(e)}`;
  }
  leanTf = core;
  return core;
}

/**
 * Loads tfjs-node once per thread. On the main thread sets the libtensorflow environment
 * first; in a worker refuses unless the main thread holds the addon (see module doc).
 * Returns an error message instead of throwing.
 */
function loadTfjsNode(threads: NativeThreads): string | undefined {
  if (tfjsNode) return undefined;
  if (nativeLoadError !== undefined) return nativeLoadError;
  const refused = beforeNativeLoad(threads);
  if (refused !== undefined) return refused;
  try {
    tfjsNode = require('@tensorflow/tfjs-node') as TfjsNodeModule;
    binding ??= require(bindingPath()) as NativeBinding;
  } catch (e) {
    nativeLoadError = nativeLoadFailure(e);
    return nativeLoadError;
  }
  afterNativeLoad(threads);
  return undefined;
}

/** tfjs-node's version from its package.json (the lean load has no `version` object). */
function tfjsNodeVersion(): string | undefined {
  try {
    return (require('@tensorflow/tfjs-node/package.json') as { version?: string }).version;
  } catch {
    return undefined;
  }
}

function versionsOf(tf: Tf, name: BackendName): BackendVersions {
  // tfjs-core has version_core but no `version` object (the bundle's); both are 4.22.0.
  const core = tf as unknown as { version?: { tfjs?: string }; version_core?: string };
  const versions: BackendVersions = { tfjs: core.version?.tfjs ?? core.version_core ?? 'unknown' };
  if (name === 'tensorflow') {
    const node = tfjsNode?.version['tfjs-node'] ?? tfjsNodeVersion();
    if (node) versions.tfjsNode = node;
    if (binding?.TF_Version) versions.libtensorflow = binding.TF_Version;
  } else if (name === 'wasm') {
    const wasm = require('@tensorflow/tfjs-backend-wasm') as { version_wasm?: string };
    if (wasm.version_wasm) versions.tfjsBackendWasm = wasm.version_wasm;
  }
  return versions;
}

/**
 * The cpu backend prints a multi-line "install our node backend" banner on first use in
 * Node (also when it only serves as a helper of another backend). The engine reports its
 * backend choice itself, so mark the banner as shown.
 */
function silenceCpuBanner(tf: Tf): void {
  try {
    const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
    if (cpu && typeof cpu.firstUse === 'boolean') cpu.firstUse = false;
  } catch {
    // cosmetic only
  }
}

/** Tries one backend; returns the reason on failure. */
async function tryBackend(name: BackendName, threads: NativeThreads, lean: boolean): Promise<{ tf: Tf } | { error: string }> {
  try {
    let tf: Tf;
    if (name === 'tensorflow' && lean) {
      const r = loadTfjsNodeLean(threads);
      if (typeof r === 'string') return { error: r };
      tf = r;
    } else {
      if (name === 'tensorflow') {
        const err = loadTfjsNode(threads);
        if (err !== undefined) return { error: err };
      }
      tf = loadTfjs();
    }
    if (name === 'wasm') require('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend(name))) return { error: `tfjs could not initialise the ${name} backend` };
    await tf.ready();
    if (tf.getBackend() !== name) return { error: `tfjs reports backend ${tf.getBackend()} instead of ${name}` };
    silenceCpuBanner(tf);
    if (name === 'tensorflow') routeMatMul(tf);
    return { tf };
  } catch (e) {
    return { error: `${name} backend failed: ${errorMessage(e)}` };
  }
}

/**
 * Loads a tfjs backend and makes it the active one in this thread.
 *
 * `auto` tries `tensorflow`, then `wasm`, then `cpu`, and sets `warning` (one line) when
 * it had to fall back. On the main thread, loading `tensorflow` (also via `auto`) keeps
 * the addon resident, which worker threads require.
 *
 * @param requested a backend name, or `auto`
 * @param opts libtensorflow pool sizes; default 1 each (or the TF_NUM_* environment
 *   variables when set). They only take effect when the main thread is the first to load
 *   tfjs-node; later requests cannot resize the pools and get a warning.
 * @throws {BackendError} when a named backend cannot be loaded
 * @throws {UsageError} for an unknown name or a non-positive thread count
 */
export async function loadBackend(requested: BackendName | 'auto', opts: BackendOptions = {}): Promise<LoadedBackend> {
  if (requested !== 'auto' && !BACKEND_NAMES.includes(requested)) {
    throw new UsageError(`unknown backend "${String(requested)}" (expected auto, ${BACKEND_NAMES.join(', ')})`);
  }
  const threads = requestedThreads(opts);
  const candidates = requested === 'auto' ? BACKEND_NAMES : [requested];
  const failures: string[] = [];
  for (const name of candidates) {
    const r = await tryBackend(name, threads, opts.lean === true);
    if ('error' in r) {
      if (requested !== 'auto') throw new BackendError(`backend ${name} unavailable: ${r.error}`);
      failures.push(r.error);
      continue;
    }
    const loaded: LoadedBackend = { tf: r.tf, name, versions: versionsOf(r.tf, name) };
    const warnings: string[] = [];
    if (failures.length > 0) warnings.push(`using the ${name} backend: ${failures.join('; ')}`);
    if (name === 'tensorflow' && threadsAtLoad) {
      loaded.threads = { ...threadsAtLoad };
      const asked = opts.intraOpThreads !== undefined || opts.interOpThreads !== undefined;
      if (asked && (threadsAtLoad.intraOp !== threads.intraOp || threadsAtLoad.interOp !== threads.interOp)) {
        warnings.push(
          `libtensorflow pools stay at intra-op ${threadsAtLoad.intraOp} / inter-op ${threadsAtLoad.interOp} ` +
            `(set when first loaded in the main thread; asked for ${threads.intraOp} / ${threads.interOp})`,
        );
      }
    }
    if (warnings.length > 0) loaded.warning = warnings.join('; ');
    return loaded;
  }
  throw new BackendError(`no tfjs backend could be loaded: ${failures.join('; ')}`);
}

/**
 * Loads tfjs-node in the main thread and keeps it loaded for the life of the process, so
 * worker threads can load and unload it safely. Call before creating workers that will
 * use the `tensorflow` backend. Does not change the active backend of this thread.
 *
 * @param opts libtensorflow pool sizes for every thread's TF context (default 1 each)
 * @returns true when the addon is resident; false in a worker thread or when tfjs-node
 *   cannot be loaded (workers will then fall back under `auto`)
 */
export function keepNativeResident(opts: BackendOptions = {}): boolean {
  if (!onMainThread()) return false;
  // The bare addon is enough: residency is about the native library, and loading the
  // binding alone leaves tfjs (and the active backend) untouched.
  return loadBindingOnly(requestedThreads(opts)) === undefined;
}

/** What the main thread needs to know to start workers: see {@link prepareBackend}. */
export interface PreparedBackend {
  /** The backend the workers will train on. */
  name: BackendName;
  versions: BackendVersions;
  /** libtensorflow pool sizes, when the backend is `tensorflow`. */
  threads?: NativeThreads;
  /** One line saying why `auto` did not get the fastest backend. */
  warning?: string;
}

/**
 * Settles which backend the worker threads will use, loading as little as possible in
 * this (main) thread: for `tensorflow` only the addon, which also keeps it resident; the
 * tfjs bundle is loaded only when `auto` must fall back to wasm or cpu, or for those
 * backends by name. Call it before starting workers; use {@link loadBackend} instead
 * when this thread trains too.
 *
 * @throws {BackendError} when a named backend cannot be loaded
 * @throws {UsageError} for an unknown name or a non-positive thread count
 */
export async function prepareBackend(requested: BackendName | 'auto', opts: BackendOptions = {}): Promise<PreparedBackend> {
  if (requested !== 'auto' && !BACKEND_NAMES.includes(requested)) {
    throw new UsageError(`unknown backend "${String(requested)}" (expected auto, ${BACKEND_NAMES.join(', ')})`);
  }
  const threads = requestedThreads(opts);
  if (onMainThread() && (requested === 'auto' || requested === 'tensorflow')) {
    const err = loadBindingOnly(threads);
    if (err === undefined && binding?.TF_Version) {
      const versions: BackendVersions = { tfjs: tfjsVersion() };
      const node = tfjsNodeVersion();
      if (node) versions.tfjsNode = node;
      versions.libtensorflow = binding.TF_Version;
      const prepared: PreparedBackend = { name: 'tensorflow', versions, threads: { ...threadsAtLoad! } };
      const asked = opts.intraOpThreads !== undefined || opts.interOpThreads !== undefined;
      if (asked && (threadsAtLoad!.intraOp !== threads.intraOp || threadsAtLoad!.interOp !== threads.interOp)) {
        prepared.warning =
          `libtensorflow pools stay at intra-op ${threadsAtLoad!.intraOp} / inter-op ${threadsAtLoad!.interOp} ` +
          `(set when first loaded in the main thread; asked for ${threads.intraOp} / ${threads.interOp})`;
      }
      return prepared;
    }
  }
  // Fallbacks and the pure-JS backends: the full loader decides and explains.
  const b = await loadBackend(requested, opts);
  const prepared: PreparedBackend = { name: b.name, versions: b.versions };
  if (b.threads) prepared.threads = b.threads;
  if (b.warning) prepared.warning = b.warning;
  return prepared;
}

/** @tensorflow/tfjs's version without loading it. */
function tfjsVersion(): string {
  try {
    return (require('@tensorflow/tfjs/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * The byte offset into `buffer` (a multiple of 4 below `slack`) at which tfjs-node's
 * libtensorflow reads a float32 tensor in place instead of copying it, or undefined if it
 * copies at every offset (or the addon is not loaded in this thread).
 *
 * tfjs-node's binding hands a typed array's own memory to TF_NewTensor (holding a
 * reference on the array until libtensorflow lets go of it), and TF_NewTensor copies only
 * when the address is not aligned for Eigen (16, 32 or 64 bytes depending on the build).
 * Large SharedArrayBuffers start 16 bytes past a page boundary, so a view at the right
 * small offset is never copied. JavaScript cannot see addresses, hence the probe: wrap 4
 * floats at each candidate offset, change them in JavaScript, and see whether
 * libtensorflow reads the change. The probe writes into `buffer`: call it before filling.
 */
export function zeroCopyOffset(buffer: SharedArrayBuffer, slack = 64): number | undefined {
  const native = binding;
  if (!native || typeof native.createTensor !== 'function' || typeof native.tensorDataSync !== 'function') return undefined;
  for (let offset = 0; offset + 16 <= Math.min(slack, buffer.byteLength); offset += 4) {
    const view = new Float32Array(buffer, offset, 4);
    view.fill(0);
    const id = native.createTensor([4], native.TF_FLOAT, view);
    try {
      view[0] = 1;
      if (native.tensorDataSync(id)[0] === 1) return offset;
    } finally {
      native.deleteTensor(id);
    }
  }
  return undefined;
}

function nativeMarker(): { source: NativeInstallSource; libtensorflow?: string } {
  let pkgJson: string;
  try {
    pkgJson = require.resolve('@tensorflow/tfjs-node/package.json');
  } catch {
    return { source: 'not-installed' };
  }
  const marker = join(dirname(pkgJson), MARKER_FILE);
  if (!existsSync(marker)) return { source: 'unknown' };
  try {
    const m = JSON.parse(readFileSync(marker, 'utf8')) as { source?: string; libtensorflow?: string };
    const source: NativeInstallSource = m.source === 'official' || m.source === 'fallback-build' ? m.source : 'unknown';
    return m.libtensorflow ? { source, libtensorflow: m.libtensorflow } : { source };
  } catch {
    return { source: 'unknown' };
  }
}

/**
 * Describes the backend situation for `hpo info` without loading anything new: the loaded
 * backend (if given), versions, how tfjs-node was installed, and the libtensorflow pool
 * sizes in effect (or that the next load would use).
 */
export function describeBackend(loaded?: LoadedBackend): BackendDescription {
  const marker = nativeMarker();
  const d: BackendDescription = {
    backend: loaded?.name ?? null,
    versions: loaded ? { ...loaded.versions } : {},
    nativeInstall: marker.source,
    threads: threadsAtLoad ? { ...threadsAtLoad } : requestedThreads({}),
    nativeResident: process.env[RESIDENT_ENV] === String(process.pid),
  };
  if (marker.libtensorflow) d.nativeInstallLibtensorflow = marker.libtensorflow;
  if (binding) d.kernels = loadHpoKernels();
  return d;
}
