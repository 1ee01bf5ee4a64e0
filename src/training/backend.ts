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
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { onMainThread } from '../worker/thread-role.js';
import { BackendError, UsageError, errorMessage } from '../errors.js';

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
interface NativeBinding {
  TF_Version?: string;
}

let tfjsNode: TfjsNodeModule | undefined;
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
 * Loads tfjs-node once per thread. On the main thread sets the libtensorflow environment
 * first; in a worker refuses unless the main thread holds the addon (see module doc).
 * Returns an error message instead of throwing.
 */
function loadTfjsNode(threads: NativeThreads): string | undefined {
  if (tfjsNode) return undefined;
  if (nativeLoadError !== undefined) return nativeLoadError;
  if (!onMainThread() && process.env[RESIDENT_ENV] !== String(process.pid)) {
    // Not cached: the main thread may make it resident later for new workers only.
    return 'tfjs-node is not resident in the main thread (call keepNativeResident() or loadBackend() there before starting workers)';
  }
  if (onMainThread()) {
    process.env[INTRA_ENV] = String(threads.intraOp);
    process.env[INTER_ENV] = String(threads.interOp);
    // TF's C++ start-up chatter (AVX2/FMA notice, device lines); warnings and errors stay.
    process.env['TF_CPP_MIN_LOG_LEVEL'] ??= '2';
  }
  try {
    tfjsNode = require('@tensorflow/tfjs-node') as TfjsNodeModule;
  } catch (e) {
    nativeLoadError = /Cannot find module '@tensorflow\/tfjs-node'/.test(errorMessage(e))
      ? '@tensorflow/tfjs-node is not installed (run npm install; see scripts/install-native.mjs)'
      : `tfjs-node failed to load: ${errorMessage(e)}`;
    return nativeLoadError;
  }
  // Pools were sized from the C environment as it is now; in a worker that is the main
  // thread's setting, whatever this thread asked for.
  threadsAtLoad = { intraOp: envInt(INTRA_ENV) ?? threads.intraOp, interOp: envInt(INTER_ENV) ?? threads.interOp };
  if (onMainThread()) process.env[RESIDENT_ENV] = String(process.pid);
  return undefined;
}

function versionsOf(tf: Tf, name: BackendName): BackendVersions {
  const versions: BackendVersions = { tfjs: tf.version.tfjs };
  if (name === 'tensorflow') {
    const binding = (tf.backend() as unknown as { binding?: NativeBinding }).binding;
    if (tfjsNode?.version['tfjs-node']) versions.tfjsNode = tfjsNode.version['tfjs-node'];
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
async function tryBackend(name: BackendName, threads: NativeThreads): Promise<{ tf: Tf } | { error: string }> {
  try {
    if (name === 'tensorflow') {
      const err = loadTfjsNode(threads);
      if (err !== undefined) return { error: err };
    }
    const tf = loadTfjs();
    if (name === 'wasm') require('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend(name))) return { error: `tfjs could not initialise the ${name} backend` };
    await tf.ready();
    if (tf.getBackend() !== name) return { error: `tfjs reports backend ${tf.getBackend()} instead of ${name}` };
    silenceCpuBanner(tf);
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
    const r = await tryBackend(name, threads);
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
  const tf = tfjsNode ? undefined : loadTfjs();
  const before = tf?.getBackend();
  const ok = loadTfjsNode(requestedThreads(opts)) === undefined;
  // Requiring tfjs-node registers `tensorflow` with top priority; keep what was active.
  if (ok && tf && before !== undefined && before !== tf.getBackend()) void tf.setBackend(before);
  return ok;
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
  return d;
}
